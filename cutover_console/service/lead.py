"""The lead's in-process session: the one journal writer, the state, and the engines.

No UI here. All journal writes happen on one dedicated thread, under one lock that also guards the
state the views read: an fsync never stalls the screen or the probes, and a view never sees a
half-applied event.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..clock import Clock, SystemClock
from ..journal import Actor, Event, JournalReader, JournalWriter
from ..plan import PlanDocument
from ..runbook import Cutover, CutoverState
from ..runbook.comms_ledger import CommsFollower
from ..runbook.session import newest_events
from ..runbook.snapshot import save_snapshot
from . import operations
from .engines import run_engines
from .protocol import parse_request

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
        self.comms = CommsFollower.of_journal(self._reader, self.state.head_seq)
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
        command: str = "cutover run",
    ) -> LeadSession:
        """Resume `journal`, or create it for `document` when it does not exist yet."""
        clock = clock or SystemClock()
        if journal.exists():
            writer = JournalWriter.open(journal, clock=clock, command=command)
        else:
            if document is None:
                raise FileNotFoundError(journal)
            writer = create_journal(journal, document, clock=clock, mode=mode)
        return cls(writer, clock)

    @property
    def state(self) -> CutoverState:
        return self.cutover.state

    async def act(self, action: Callable[[Cutover], T]) -> T:
        """Run an action (validate, journal, fold) on the journal's thread."""

        def run() -> T:
            return action(self.cutover)  # the state is locked only while events are applied

        return await asyncio.get_running_loop().run_in_executor(self._journal_thread, run)

    async def request(self, op: str, **args: Any) -> Event | None:
        """A named journal operation (`note`, `start_step`…, as the journal service takes them),
        run here on the journal's thread: the same surface as the service's console session."""
        idem = args.pop("idem", None)
        body = parse_request({"op": op, "args": args, **({"idem": idem} if idem else {})})
        return await self.act(lambda cutover: operations.run(cutover, body))

    async def statement(self, step: str, by: str) -> str:
        """A sign-off statement for `by` to sign (signoffs/)."""
        return await self.act(lambda cutover: cutover.signoff_statement(step, by))

    def events_after(self, seq: int) -> list[Event]:
        """The journaled events after `seq`, at most the newest RECENT (call under the lock)."""
        return newest_events(self._reader, seq, self.state.head_seq)

    def log_lines(self, after: int = 0) -> list[tuple[Any, ...]]:
        return self._reader.log_lines(after)

    def follow_comms(self) -> int:
        """Fold the comms events journaled since the last call; the ledger's version. Reads the
        journal: call it from a thread, never from a screen's loop."""
        with self.lock:
            self.comms.fold(self._reader.events(after=self.comms.ledger.head_seq))
            return self.comms.version

    async def run_engines(
        self, stop: asyncio.Event, changed: Callable[[], None], base: Path | None = None
    ) -> None:
        """DNS propagation, data flows and logs, as asyncio tasks until `stop`; their changes go
        to the journal on the journal's thread, then `changed()` is called."""
        loop = asyncio.get_running_loop()

        def journal(write: Callable[[], Any]) -> None:
            future = loop.run_in_executor(self._journal_thread, write)
            future.add_done_callback(lambda _f: changed())

        await run_engines(
            self.cutover, self.clock, journal, stop, self.engine_errors, base=base or self.base
        )

    @property
    def reader(self) -> JournalReader:
        return self._reader

    def close(self) -> None:
        self._journal_thread.shutdown(wait=True)
        save_snapshot(self._reader, self.state)  # the next start folds only what came after
        self._reader.close()
        self.writer.close()


def create_journal(
    journal: Path, document: PlanDocument, *, clock: Clock | None = None, mode: str = "live"
) -> JournalWriter:
    """A new journal for `document`, created by the plan's first lead."""
    lead = next(
        (p.id for p in document.plan.people if "lead" in p.roles),
        document.plan.people[0].id,
    )
    return JournalWriter.create(
        journal,
        document.text,
        document.sha256,
        document.file,
        Actor.here(lead),
        cutover_id=document.plan.cutover.id,
        plan_keys=document.keys,
        mode=mode,
        clock=clock,
    )
