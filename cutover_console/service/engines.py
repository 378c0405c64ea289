"""Starting the engines of a cutover: DNS propagation, data flows, logs.

The engines probe on an asyncio loop; what they observe is journaled on the journal's own thread
(`journal(write)` queues a write there), so a disk's fsync never stalls probing or a screen. An
engine that crashes is reported under its name in `errors`; the others keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..runbook import Cutover
from ..secrets import REDACT

# Queue one journal write on the journal's thread (then tell the views).
JournalWrite = Callable[[Callable[[], Any]], None]
Engine = Coroutine[Any, Any, None]


def dns_engine(
    cutover: Cutover, clock: Clock, journal: JournalWrite, stop: asyncio.Event, base: Path | None
) -> Engine | None:
    """Resolvers asked again as their copies expire; verdicts, percentages, DNS gates."""
    plan = cutover.state.plan
    if plan.dns is None or not plan.dns.records:
        return None
    from ..dns.journaling import DnsJournal
    from ..dns.monitor import PropagationMonitor

    monitor = PropagationMonitor(plan.dns, clock)
    dns_journal = DnsJournal(cutover)

    def update(_snapshot: object) -> None:
        pending = dns_journal.collect(monitor)
        journal(lambda: dns_journal.write(pending))

    return monitor.run(stop, update)


def vantage_engine(
    cutover: Cutover, clock: Clock, journal: JournalWrite, stop: asyncio.Event, base: Path | None
) -> Engine | None:
    """Globalping's probes and SSH vantage hosts: propagation where the shops are."""
    plan = cutover.state.plan
    if plan.dns is None or plan.dns.vantage is None or not plan.dns.records:
        return None
    from ..dns.vantage.engine import VantageMonitor
    from ..dns.vantage.journaling import VantageJournal

    monitor = VantageMonitor(plan.dns, clock, base=base)
    vantage_journal = VantageJournal(cutover)

    def update() -> None:
        pending = vantage_journal.collect(monitor)
        journal(lambda: vantage_journal.write(pending))

    return monitor.run(stop, update)


def flow_engine(
    cutover: Cutover, clock: Clock, journal: JournalWrite, stop: asyncio.Event, base: Path | None
) -> Engine | None:
    """Heartbeats of both sides of every flow, per-site switchover, reconciliations."""
    plan = cutover.state.plan
    if not (plan.flows or plan.reconcile):
        return None
    from ..heartbeats.flows import FlowMonitor
    from ..heartbeats.journaling import FlowJournal

    monitor = FlowMonitor(plan, clock, base=base, switch_at=cutover.state.dns_switched_at)
    flow_journal = FlowJournal(cutover)

    def update() -> None:
        pending = flow_journal.collect(monitor)
        journal(lambda: flow_journal.write(pending))

    return monitor.run(stop, update)


def archive_engine(
    cutover: Cutover, clock: Clock, journal: JournalWrite, stop: asyncio.Event, base: Path | None
) -> Engine | None:
    """Signed checkpoints and the events, published where nobody can rewrite them (S3 Object
    Lock), when the plan or the command line names a witness."""
    from ..archive.engine import archive_engine as start

    return start(cutover, clock, journal, stop, base)


def log_engine(
    cutover: Cutover, clock: Clock, journal: JournalWrite, stop: asyncio.Event, base: Path | None
) -> Engine | None:
    """The plan's log files, followed on both sides; their lines go to the journal's log table."""
    plan = cutover.state.plan
    if not plan.logs:
        return None
    from ..heartbeats.logs import LogFollower
    from ..heartbeats.reading import iso

    follower = LogFollower(plan.logs, clock, base=base)

    def logged(lines: list[Any]) -> None:
        rows = [(iso(x.at) or "", x.source, x.side, x.level, x.text) for x in lines]
        journal(lambda: cutover.writer.append_log_lines(rows))

    follower.listeners.append(logged)
    return follower.run(stop)


def comms_engine(
    cutover: Cutover, clock: Clock, journal: JournalWrite, stop: asyncio.Event, base: Path | None
) -> Engine | None:
    """Stakeholder updates: the outbox sent target by target, the schedule, overdue updates."""
    if cutover.state.plan.comms is None:
        return None
    from ..comms.engine import CommsEngine

    return CommsEngine(cutover, clock, journal, base).run(stop)


EngineStarter = Callable[[Cutover, Clock, JournalWrite, asyncio.Event, Path | None], Engine | None]

# Every engine a cutover runs, by the name its errors are reported under. The archive publisher
# (issue 13) joins here as one more (name, starter) pair: it reads the cutover, publishes, and
# journals through `journal(...)` like the others.
ENGINES: dict[str, EngineStarter] = {
    "dns": dns_engine,
    "vantage": vantage_engine,
    "flows": flow_engine,
    "logs": log_engine,
    "archive": archive_engine,
    "comms": comms_engine,
}


async def run_engines(
    cutover: Cutover,
    clock: Clock,
    journal: JournalWrite,
    stop: asyncio.Event,
    errors: dict[str, str],
    *,
    base: Path | None = None,
) -> None:
    """Every engine the plan needs, as asyncio tasks until `stop`."""
    tasks = []
    for name, start in ENGINES.items():
        engine = start(cutover, clock, journal, stop, base)
        if engine is not None:
            tasks.append(asyncio.create_task(_guard(name, engine, errors)))
    await stop.wait()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _guard(name: str, engine: Engine, errors: dict[str, str]) -> None:
    """An engine that crashes is reported in its pane; the rest keeps running."""
    try:
        await engine
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # shown to the lead, never a traceback on screen
        errors[name] = REDACT(f"{type(exc).__name__}: {exc}")[:300]
