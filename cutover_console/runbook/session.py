"""A live cutover for a view: the lead's (journal writer + engines) or a watcher's (read-only).

No UI here. All journal writes happen on one dedicated thread, under one lock that also guards the
state the views read: an fsync never stalls the screen or the probes, and a view never sees a
half-applied event. A watcher has no writer at all: it opens the journal read-only and folds in
what the lead's process appends.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..clock import Clock, SystemClock
from ..journal import Actor, Event, JournalReader, JournalWriter
from ..plan import PlanDocument
from .actions import Cutover, load_state
from .fold import CutoverState

T = TypeVar("T")


class LeadSession:
    """The lead's process: the one journal writer, the state, the DNS and flow engines."""

    read_only = False

    def __init__(self, writer: JournalWriter, clock: Clock) -> None:
        self.writer = writer
        self.clock = clock
        self.cutover = Cutover(writer, clock)
        self.lock = threading.RLock()
        self.cutover.state_lock = self.lock
        self._journal_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        # The views read events and log lines through their own read-only connection, so that
        # they never share the writer's connection across threads.
        self._reader = JournalReader(writer.path)
        self.engine_errors: dict[str, str] = {}
        # where the plan's relative paths (SQLite files, logs, file probes) are found; the
        # rehearsal world sets its own directory
        self.base: Path | None = None

    @classmethod
    def open(
        cls,
        journal: Path,
        document: PlanDocument | None = None,
        *,
        clock: Clock | None = None,
        mode: str = "live",
    ) -> LeadSession:
        """Resume `journal`, or create it for `document` when it does not exist yet."""
        clock = clock or SystemClock()
        if journal.exists():
            writer = JournalWriter.open(journal, clock=clock, command="cutover run")
        else:
            if document is None:
                raise FileNotFoundError(journal)
            lead = next(
                (p.id for p in document.plan.people if "lead" in p.roles),
                document.plan.people[0].id,
            )
            writer = JournalWriter.create(
                journal,
                document.text,
                document.sha256,
                document.file,
                Actor.here(lead),
                cutover_id=document.plan.cutover.id,
                mode=mode,
                clock=clock,
            )
        return cls(writer, clock)

    @property
    def state(self) -> CutoverState:
        return self.cutover.state

    async def act(self, action: Callable[[Cutover], T]) -> T:
        """Run an action (validate, journal, fold) on the journal's thread."""

        def run() -> T:
            return action(self.cutover)  # the state is locked only while events are applied

        return await asyncio.get_running_loop().run_in_executor(self._journal_thread, run)

    def log_lines(self, after: int = 0) -> list[tuple[Any, ...]]:
        return self._reader.log_lines(after)

    async def run_engines(
        self, stop: asyncio.Event, changed: Callable[[], None], base: Path | None = None
    ) -> None:
        """DNS propagation, data flows and logs, as asyncio tasks until `stop`; their changes go
        to the journal on the journal's thread, then `changed()` is called."""
        plan = self.state.plan
        base = base or self.base
        tasks: list[asyncio.Task[None]] = []
        loop = asyncio.get_running_loop()

        def journal(write: Callable[[], Any]) -> None:
            future = loop.run_in_executor(self._journal_thread, write)
            future.add_done_callback(lambda _f: changed())

        if plan.dns is not None and plan.dns.records:
            from ..dns.journaling import DnsJournal
            from ..dns.monitor import PropagationMonitor

            dns_monitor = PropagationMonitor(plan.dns, self.clock)
            dns_journal = DnsJournal(self.cutover)

            def dns_update(_snapshot: object) -> None:
                pending = dns_journal.collect(dns_monitor)
                journal(lambda: dns_journal.write(pending))

            tasks.append(asyncio.create_task(self._guard("dns", dns_monitor.run(stop, dns_update))))
        if plan.flows or plan.reconcile:
            from ..heartbeats.flows import FlowMonitor
            from ..heartbeats.journaling import FlowJournal

            flow_monitor = FlowMonitor(
                plan, self.clock, base=base, switch_at=self.state.dns_switched_at
            )
            flow_journal = FlowJournal(self.cutover)

            def flows_update() -> None:
                pending = flow_journal.collect(flow_monitor)
                journal(lambda: flow_journal.write(pending))

            tasks.append(
                asyncio.create_task(self._guard("flows", flow_monitor.run(stop, flows_update)))
            )
        if plan.logs:
            from ..heartbeats.logs import LogFollower
            from ..heartbeats.reading import iso

            follower = LogFollower(plan.logs, self.clock, base=base)

            def logged(lines: list[Any]) -> None:
                rows = [(iso(x.at) or "", x.source, x.side, x.level, x.text) for x in lines]
                journal(lambda: self.writer.append_log_lines(rows))

            follower.listeners.append(logged)
            tasks.append(asyncio.create_task(self._guard("logs", follower.run(stop))))
        await stop.wait()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _guard(self, name: str, coro: Any) -> None:
        """An engine that crashes is reported in its pane; the console keeps running."""
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # shown to the lead, never a traceback on screen
            self.engine_errors[name] = f"{type(exc).__name__}: {exc}"[:300]

    @property
    def reader(self) -> JournalReader:
        return self._reader

    def close(self) -> None:
        self._journal_thread.shutdown(wait=True)
        self._reader.close()
        self.writer.close()


class WatchSession:
    """A read-only view: no writer exists in this process; new events are folded in as they land."""

    read_only = True

    def __init__(self, journal: Path) -> None:
        self.reader = JournalReader(journal)
        self.lock = threading.RLock()
        self.state = load_state(self.reader)
        self.engine_errors: dict[str, str] = {}

    def poll(self) -> list[Event]:
        """Fold in the events appended since the last call (call from a worker thread)."""
        with self.lock:
            new = list(self.reader.events(after=self.state.head_seq))
            for event in new:
                self.state.apply(event)
            return new

    def log_lines(self, after: int = 0) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.reader.log_lines(after)

    def close(self) -> None:
        self.reader.close()
