"""`cutover demo`: the rehearsal world plus the demo plan, driven by a person or the autopilot."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import ScaledClock
from ..plan import PlanDocument, load_plan
from ..runbook.fold import CutoverState
from ..runbook.rules import start_blockers
from ..service.lead import LeadSession
from .autopilot import Autopilot, AutopilotResult
from .world import World, WorldOptions

if TYPE_CHECKING:
    from ..archive.settings import ArchiveSettings

LEAD_IN = timedelta(minutes=1)  # the world starts a minute before the window opens


def demo_plan_path() -> Path:
    return Path(str(resources.files("cutover_console.rehearsal") / "demo.yaml"))


@dataclass
class DemoSetup:
    directory: Path  # the world's files: databases, logs
    journal: Path
    document: PlanDocument
    clock: ScaledClock
    world: World


def setup(
    speed: float,
    journal: Path | None,
    *,
    root: Path = Path("state") / "demo",
    plan: Path | None = None,
    world_options: WorldOptions | None = None,
) -> DemoSetup:
    """Where this demo's files go, and its clock (the world is not started yet)."""
    document = load_plan(plan or demo_plan_path())
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    if journal is None:
        directory = root / stamp
        journal = directory / "journal.sqlite"
    else:
        directory = journal.parent / f"{journal.stem}-world"
    if journal.exists():
        raise FileExistsError(
            f"{journal} exists: a demo always starts a fresh world, so give a new --journal "
            "(open the old one with `cutover watch --journal` or `cutover report`)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    journal.parent.mkdir(parents=True, exist_ok=True)
    clock = ScaledClock(document.plan.cutover.window.start - LEAD_IN, speed)
    return DemoSetup(directory, journal, document, clock, World(directory, clock, world_options))


def open_session(demo: DemoSetup) -> LeadSession:
    session = LeadSession.open(demo.journal, demo.document, clock=demo.clock, mode="rehearsal")
    session.base = demo.directory
    return session


@dataclass
class HeadlessOutcome:
    ok: bool
    wall_s: float
    world_minutes: float
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    world: dict[str, Any] = field(default_factory=dict)


def final_checks(state: CutoverState) -> dict[str, tuple[bool, str]]:
    """What 'complete' means for the demo, read from the journal's fold like any report."""
    signals = state.signals
    unfinished = [s for s, st in state.steps.items() if st.status != "done"]
    records = signals.dns_records
    not_new = {r: p.get("percent_new") for r, p in records.items() if p.get("percent_new") != 100}
    stragglers = sorted(
        site for (_f, site), p in signals.flow_sites.items() if p["status"] == "straggler"
    )
    recs = {r: p.get("status") for r, p in signals.reconciliations.items()}
    return {
        "every step done": (
            not unfinished,
            "all done" if not unfinished else f"not done: {', '.join(unfinished)}",
        ),
        "DNS 100 % new": (
            bool(records) and not not_new,
            f"{len(records)} record(s) 100 % new on every healthy resolver"
            if records and not not_new
            else f"not yet: {not_new or 'no observation'}",
        ),
        "stragglers drained": (
            not stragglers,
            "no site still sends to the old side"
            if not stragglers
            else f"{len(stragglers)} still on old: {', '.join(stragglers[:8])}",
        ),
        "reconciliation matched": (
            bool(recs) and all(v == "match" for v in recs.values()),
            ", ".join(f"{r}: {v}" for r, v in recs.items()) or "never compared",
        ),
    }


async def drive(
    session: LeadSession,
    say: Callable[[str], None],
    *,
    settle: timedelta = timedelta(minutes=2),
) -> AutopilotResult:
    """The engines and the autopilot together, until the cutover is complete or stuck. After the
    last step, the engines run `settle` more world minutes so the journal's last DNS and flow
    observations reflect the final state."""
    stop_engines = asyncio.Event()
    engines = asyncio.create_task(session.run_engines(stop_engines, lambda: None))
    pilot = Autopilot(session, deadline=session.state.plan.cutover.window.end)
    printed = 0
    stop_pilot = asyncio.Event()

    news = SignalNews(session)
    clock = session.clock if isinstance(session.clock, ScaledClock) else None

    async def echo() -> None:
        nonlocal printed
        while not stop_pilot.is_set():
            while printed < len(pilot.log):
                say(pilot.log[printed])
                printed += 1
            for line in news.lines():
                say(line)
            if clock is not None and (skipped := skip_idle(session, clock)):
                say(f"{clock.now().astimezone(session.state.plan.zone):%H:%M} {skipped}")
            await asyncio.sleep(0.05)

    echoing = asyncio.create_task(echo())
    try:
        result = await pilot.run(stop_pilot)
        until = session.clock.now() + settle
        while session.clock.now() < until and not final_ok(session.state):
            await asyncio.sleep(0.05)
        if session.state.plan.comms is not None:  # the last updates reach their inboxes
            from .comms_check import settled

            deadline = time.monotonic() + COMMS_SETTLE_S
            while time.monotonic() < deadline and not await asyncio.to_thread(
                settled, session.writer.path
            ):
                await asyncio.sleep(0.2)
    finally:
        stop_pilot.set()
        stop_engines.set()
        await engines
        await echoing
    for line in pilot.log[printed:]:
        say(line)
    for name, error in session.engine_errors.items():
        say(f"engine {name} failed: {error}")
    return result


COMMS_SETTLE_S = 30.0  # real seconds the headless run waits for the last updates to settle
SKIP_AT_LEAST = timedelta(minutes=20)  # shorter waits are lived through, not skipped


def skip_idle(session: LeadSession, clock: ScaledClock) -> str | None:
    """Skip the world's clock over a night where nothing is planned: when no step is running,
    none could start now, and the next ones wait only for their `not_before`, jump to a minute
    before the earliest of those. Returns what happened, for the lead."""
    state = session.state
    now = clock.now()
    waits = []
    with session.lock:
        if any(s.status == "in_progress" for s in state.steps.values()):
            return None
        for step in state.plan.steps:
            if state.steps[step.id].status != "pending":
                continue
            blockers = start_blockers(state, step, now)
            if not blockers:
                return None  # something can start now: that is the lead's move
            if step.not_before is not None and all(b.rule == "not_before" for b in blockers):
                waits.append(step.not_before)
    if not waits or min(waits) - now < SKIP_AT_LEAST:
        return None
    target = min(waits) - timedelta(minutes=1)
    clock.jump(target - now)
    zone = state.plan.zone
    return (
        f"nothing planned until {min(waits).astimezone(zone):%a %H:%M}: the rehearsal world's "
        f"clock skips from {now.astimezone(zone):%a %H:%M} to {target.astimezone(zone):%a %H:%M}"
    )


def start_skipper(
    session: LeadSession, clock: ScaledClock, notify: Callable[[str], None]
) -> Callable[[], None]:
    """Skip idle nights beside an interactive console (a thread); returns how to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(0.25):
            text = skip_idle(session, clock)
            if text:
                notify(text)

    thread = threading.Thread(target=loop, name="rehearsal-skipper", daemon=True)
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(5)

    return halt


class SignalNews:
    """What changed in the live signals, as one line each: propagation per record, stragglers,
    reconciliation (the headless demo's running commentary)."""

    def __init__(self, session: LeadSession) -> None:
        self.session = session
        self.seen: dict[str, object] = {}

    def lines(self) -> list[str]:
        state = self.session.state
        zone = state.plan.zone
        with self.session.lock:
            signals = state.signals
            records = {k: dict(v) for k, v in signals.dns_records.items()}
            stragglers = sorted(
                site for (_f, site), p in signals.flow_sites.items() if p["status"] == "straggler"
            )
            recs = {k: v.get("status") for k, v in signals.reconciliations.items()}
        now = f"{self.session.clock.now().astimezone(zone):%H:%M}"
        switched = state.dns_switched_at() is not None or any(
            p.get("new") for p in records.values()
        )
        out = []
        for record, p in sorted(records.items()):
            value = (p.get("new"), p.get("healthy"))
            if self.seen.get(record) != value and switched:
                self.seen[record] = value
                name = record.split("/")[0].split(".")[0]
                out.append(
                    f"{now} DNS {name}: {p.get('percent_new', 0):g} % new "
                    f"({p.get('new')}/{p.get('healthy')} healthy resolvers)"
                )
        last = self.seen.get("stragglers_at")
        world = self.session.clock.now()
        due = (
            not stragglers or not isinstance(last, datetime) or world - last >= timedelta(minutes=5)
        )
        if self.seen.get("stragglers") != len(stragglers) and due:
            self.seen["stragglers_at"] = world
            if stragglers or "stragglers" in self.seen:
                shown = ", ".join(stragglers[:4]) + (" …" if len(stragglers) > 4 else "")
                out.append(
                    f"{now} stragglers still on the old side: {len(stragglers)}"
                    + (f" ({shown})" if stragglers else "")
                )
            self.seen["stragglers"] = len(stragglers)
        for rec, status in sorted(recs.items()):
            if self.seen.get(f"rec:{rec}") != status and switched:
                self.seen[f"rec:{rec}"] = status
                out.append(f"{now} reconciliation {rec}: {status}")
        return out


def final_ok(state: CutoverState) -> bool:
    return all(ok for ok, _ in final_checks(state).values())


def run_headless(
    demo: DemoSetup, say: Callable[[str], None], witness: ArchiveSettings | None = None
) -> HeadlessOutcome:
    """The autopilot's weekend; with `witness`, the checks add what the witness holds."""
    started = time.monotonic()
    demo.world.start()
    try:
        session = open_session(demo)
        try:
            result = asyncio.run(drive(session, say))
            state = session.state
            checks = final_checks(state)
            if state.plan.comms is not None:
                from .comms_check import comms_checks

                checks.update(comms_checks(session.writer.path))
        finally:
            session.close()
        if witness is not None:
            from .witness import witness_checks

            checks.update(witness_checks(demo, witness))
    finally:
        world = demo.world.summary()
        demo.world.stop()
    world_minutes = (demo.clock.now() - demo.clock.start).total_seconds() / 60  # lived
    ok = result.complete and all(v for v, _ in checks.values())
    return HeadlessOutcome(
        ok, time.monotonic() - started, world_minutes, checks, result.blocked, world
    )


def write_reports(journal: Path, directory: Path) -> list[Path]:
    from ..journal import JournalReader
    from ..report.document import build
    from ..report.render import write_both

    with JournalReader(journal) as reader:
        events = list(reader.events())
    return write_both(build(CutoverState.from_events(events), events), directory)
