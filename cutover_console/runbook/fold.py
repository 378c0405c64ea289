"""Current state of a cutover, as a fold over its journal events.

Every view (the console, watchers, status, reports) is this fold. It is incremental: `apply` one
event at a time, so a watcher keeps up by applying what is new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..clock import parse_ts
from ..journal import events as ev
from ..journal import payloads
from ..journal.chain import Checkpoint, Event
from ..journal.store import JournalError
from ..plan import Plan, PlanDocument, load_plan_text
from ..plan.schedule import Actual, Schedule, project
from .archive_record import KINDS as ARCHIVE_KINDS
from .archive_record import ArchiveRecord
from .signals import Signals

Status = Literal["pending", "in_progress", "done", "failed", "skipped", "rolled_back"]
FINISHED: frozenset[str] = frozenset({"done", "skipped"})


def journaled_plan(plan: dict[str, Any]) -> PlanDocument:
    """The plan a plan event holds, with the keys its `file:` references resolved to then."""
    document = load_plan_text(plan["text"], plan.get("file", "<journal>"))
    recorded = plan.get("keys")
    if isinstance(recorded, dict):
        for person, lines in recorded.items():
            if isinstance(lines, list):
                held = document.keys.setdefault(str(person), [])
                held += [str(line) for line in lines if str(line) not in held]
    return document


@dataclass
class SignOffRecord:
    person: str
    role: str
    at: datetime
    seq: int
    evidence: dict[str, Any] = field(default_factory=dict)
    key: str = ""  # SHA256:… of the key that signed it; "" when the lead recorded it
    nonce: str = ""  # its statement's nonce (a nonce signs once)


@dataclass
class GateState:
    """The latest evidence for one gate of one step."""

    id: str
    ok: bool | None = None  # None: no evidence yet
    detail: str = ""
    at: datetime | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    overridden_by: str | None = None
    override_reason: str = ""
    override_seq: int | None = None

    @property
    def satisfied(self) -> bool:
        return bool(self.ok) or self.overridden_by is not None


@dataclass
class Note:
    person: str
    text: str
    at: datetime
    seq: int
    step: str | None


@dataclass
class Override:
    """A rule the lead overrode, with the reason. Kept forever; the report lists them all."""

    step: str | None
    action: str
    rules: list[str]
    reason: str
    person: str
    at: datetime
    seq: int


@dataclass
class MalformedEvent:
    """An event in the chain whose payload does not fit its kind: kept, named, not folded in."""

    seq: int
    kind: str
    problem: str

    def describe(self) -> str:
        return f"event {self.seq} ({self.kind}) is malformed: {self.problem}; not shown"


@dataclass
class StepState:
    id: str
    status: Status = "pending"
    started_at: datetime | None = None
    started_by: str | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    reason: str = ""
    attempt: int = 0
    run_seq: int = 0  # the event that started the current run
    signoffs: list[SignOffRecord] = field(default_factory=list)
    earlier_signoffs: list[SignOffRecord] = field(default_factory=list)
    gates: dict[str, GateState] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)  # automated actions run
    history: list[int] = field(default_factory=list)  # seqs of every event about this step


@dataclass
class CutoverState:
    """Everything known about one cutover at the last applied event."""

    document: PlanDocument
    created_at: datetime
    rehearsal: bool = False
    mode: str = "live"
    world_clock: dict[str, Any] | None = None  # a sped-up rehearsal world's clock (cutover demo)
    steps: dict[str, StepState] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)
    watchers: list[dict[str, Any]] = field(default_factory=list)  # sessions over SSH
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    malformed: list[MalformedEvent] = field(default_factory=list)
    point_of_no_return_at: datetime | None = None
    signals: Signals = field(default_factory=Signals)
    archive: ArchiveRecord = field(default_factory=ArchiveRecord)  # the witness, as journaled
    journal_id: str = ""  # the hash of journal.created: what sign-off statements name
    runbook_version: int = 0  # bumps on every event that changes the steps (see _ASIDES)
    head_seq: int = 0
    head_hash: str = ""
    last_at: datetime | None = None

    @property
    def plan(self) -> Plan:
        return self.document.plan

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> CutoverState:
        iterator = iter(events)
        first = next(iterator, None)
        if first is None or first.kind != ev.JOURNAL_CREATED:
            raise JournalError("nothing to fold: the events do not start with journal.created")
        plan = first.payload["plan"]
        state = cls(
            document=journaled_plan(plan),
            created_at=parse_ts(first.ts),
            rehearsal=bool(first.payload.get("rehearsal", False)),
            mode=str(first.payload.get("mode", "live")),
            world_clock=first.payload.get("clock"),
        )
        state.journal_id = first.hash
        state._sync_steps()
        state._mark(first, state.created_at)
        for event in iterator:
            state.apply(event)
        return state

    def _sync_steps(self) -> None:
        for step in self.plan.steps:
            current = self.steps.setdefault(step.id, StepState(step.id))
            for gate in step.gates:
                assert gate.id is not None
                current.gates.setdefault(gate.id, GateState(gate.id))

    def _mark(self, event: Event, at: datetime) -> None:
        self.head_seq, self.head_hash, self.last_at = event.seq, event.hash, at

    @property
    def head(self) -> Checkpoint | None:
        return Checkpoint(self.head_seq, self.head_hash) if self.head_seq else None

    @property
    def count(self) -> int:
        return self.head_seq

    def apply(self, event: Event) -> None:
        """Fold one event in. Events about unknown steps are kept in history, never dropped; an
        event whose payload does not fit its kind is named in `malformed`, not folded in."""
        problem = payloads.problem(event.kind, event.payload)
        if problem is None:
            try:
                self._apply(event)
                return
            except Exception as exc:  # a payload that fits but still cannot be folded in
                problem = f"it cannot be folded in ({type(exc).__name__})"
        self.malformed.append(MalformedEvent(event.seq, event.kind, problem))
        self._mark(event, parse_ts(event.ts))

    def _apply(self, event: Event) -> None:
        at = parse_ts(event.ts)
        step = self.steps.get(event.step) if event.step else None
        if step is not None:
            step.history.append(event.seq)
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event, step, at)
            if step is not None or event.kind not in _ASIDES:
                self.runbook_version += 1  # the steps (not only the live signals) changed
        elif event.kind in _SIGNAL_KINDS:
            self.signals.apply(event, at)
        elif event.kind in ARCHIVE_KINDS:
            self.archive.apply(event, at)
        overrides = event.payload.get("overrides")
        if overrides:
            self.overrides.append(
                Override(
                    event.step,
                    event.kind,
                    [str(o) for o in overrides],
                    str(event.payload.get("override_reason", "")),
                    event.actor,
                    at,
                    event.seq,
                )
            )
        self._mark(event, at)

    def _started(self, event: Event, step: StepState | None, at: datetime) -> None:
        if step:
            step.status, step.started_at, step.started_by = "in_progress", at, event.actor
            step.ended_at = step.ended_by = None
            step.reason = ""
            step.attempt += 1
            step.run_seq = event.seq

    def _ended(self, event: Event, step: StepState | None, at: datetime) -> None:
        if not step:
            return
        step.status = _END_STATUS[event.kind]
        step.ended_at, step.ended_by = at, event.actor
        step.reason = str(event.payload.get("reason", ""))
        if (
            event.kind == ev.STEP_COMPLETED
            and self.point_of_no_return_at is None
            and self.plan_step_is_ponr(step.id)
        ):
            self.point_of_no_return_at = at

    def _reopened(self, event: Event, step: StepState | None, at: datetime) -> None:
        if step:
            step.status = "pending"
            step.started_at = step.started_by = step.ended_at = step.ended_by = None
            step.reason = str(event.payload.get("reason", ""))
            step.earlier_signoffs.extend(step.signoffs)
            step.signoffs = []

    def _signed(self, event: Event, step: StepState | None, at: datetime) -> None:
        if step:
            payload = event.payload
            signed = payload.get("signed")
            signed = signed if type(signed) is dict else {}
            step.signoffs.append(
                SignOffRecord(
                    event.actor,
                    str(payload.get("role", "")),
                    at,
                    event.seq,
                    dict(payload.get("evidence", {})),
                    str(signed.get("key", "")),
                    str(signed.get("nonce", "")),
                )
            )

    def _noted(self, event: Event, step: StepState | None, at: datetime) -> None:
        note = Note(event.actor, str(event.payload.get("text", "")), at, event.seq, event.step)
        (step.notes if step else self.notes).append(note)

    def _gate(self, step: StepState, gate_id: str) -> GateState:
        gate = step.gates.get(gate_id)
        if gate is None:
            gate = step.gates[gate_id] = GateState(gate_id)
        return gate

    def _evaluated(self, event: Event, step: StepState | None, at: datetime) -> None:
        if step:
            payload = event.payload
            gate = self._gate(step, str(payload["gate"]))
            gate.ok, gate.detail, gate.at = (
                bool(payload.get("ok")),
                str(payload.get("detail", "")),
                at,
            )
            gate.evidence = dict(payload.get("evidence", {}))

    def _gate_overridden(self, event: Event, step: StepState | None, at: datetime) -> None:
        if step:
            gate = self._gate(step, str(event.payload["gate"]))
            gate.overridden_by = event.actor
            gate.override_reason = str(event.payload.get("reason", ""))
            gate.override_seq = event.seq
            self.overrides.append(
                Override(
                    event.step,
                    "override gate",
                    [f"gate:{gate.id}"],
                    gate.override_reason,
                    event.actor,
                    at,
                    event.seq,
                )
            )

    def _revised(self, event: Event, step: StepState | None, at: datetime) -> None:
        plan = event.payload["plan"]
        self.document = journaled_plan(plan)
        self.revisions.append(
            {
                "seq": event.seq,
                "at": at,
                "by": event.actor,
                "sha256": plan["sha256"],
                "reason": event.payload.get("reason", ""),
            }
        )
        self._sync_steps()

    def _action_ran(self, event: Event, step: StepState | None, at: datetime) -> None:
        if step:
            step.actions.append({**event.payload, "seq": event.seq, "at": at, "by": event.actor})

    def _watcher(self, event: Event, step: StepState | None, at: datetime) -> None:
        self.watchers.append({**event.payload, "seq": event.seq, "at": at, "kind": event.kind})

    def _recovered(self, event: Event, step: StepState | None, at: datetime) -> None:
        self.recoveries.append({**event.payload, "seq": event.seq, "at": at})

    def plan_step_is_ponr(self, step_id: str) -> bool:
        try:
            return self.plan.step(step_id).point_of_no_return
        except KeyError:
            return False

    def schedule(self, now: datetime | None = None) -> Schedule:
        """Forecast from actuals: finished steps as they happened, the rest from `now`."""
        actuals = {
            s.id: Actual(s.started_at, s.ended_at, s.status in FINISHED)
            for s in self.steps.values()
        }
        return project(self.plan, self.plan.cutover.origin, actuals, now)

    def dns_switched_at(self) -> datetime | None:
        """When DNS was switched, as the journal says: the completion of the step whose action is
        the Route 53 switch; otherwise the plan's `dns.switch_at`."""
        for step in self.plan.steps:
            if step.action is not None and step.action.kind == "route53.switch":
                done = self.steps[step.id]
                if done.status == "done" and done.ended_at is not None:
                    return done.ended_at
        return self.plan.dns.switch_at if self.plan.dns else None

    def progress(self) -> tuple[int, int]:
        """(finished steps, steps in the plan)."""
        ids = [s.id for s in self.plan.steps]
        return sum(1 for i in ids if self.steps[i].status in FINISHED), len(ids)


_END_STATUS: dict[str, Status] = {
    ev.STEP_COMPLETED: "done",
    ev.STEP_FAILED: "failed",
    ev.STEP_SKIPPED: "skipped",
    ev.STEP_ROLLED_BACK: "rolled_back",
}
_Handler = Callable[[CutoverState, Event, StepState | None, datetime], None]
_HANDLERS: dict[str, _Handler] = {
    ev.STEP_STARTED: CutoverState._started,
    **{kind: CutoverState._ended for kind in _END_STATUS},
    ev.STEP_REOPENED: CutoverState._reopened,
    ev.STEP_SIGNED_OFF: CutoverState._signed,
    ev.NOTE_ADDED: CutoverState._noted,
    ev.GATE_EVALUATED: CutoverState._evaluated,
    ev.GATE_OVERRIDDEN: CutoverState._gate_overridden,
    ev.PLAN_REVISED: CutoverState._revised,
    ev.JOURNAL_RECOVERED: CutoverState._recovered,
    ev.ACTION_RAN: CutoverState._action_ran,
    ev.WATCHER_CONNECTED: CutoverState._watcher,
    ev.WATCHER_DISCONNECTED: CutoverState._watcher,
}
# Kept in the state, but without a step they change nothing a step's status, forecast or the
# checklist shows: a teammate's note to all, a watcher arriving. The console re-renders the
# checklist when `runbook_version` moves; twenty SSH watchers did that for every such note.
_ASIDES = frozenset({ev.NOTE_ADDED, ev.WATCHER_CONNECTED, ev.WATCHER_DISCONNECTED})
_SIGNAL_KINDS = frozenset(
    {
        ev.DNS_VERDICT,
        ev.DNS_RECORD,
        ev.DNS_AUTHORITY,
        ev.DNS_VANTAGE,
        ev.DNS_VANTAGE_FAULT,
        ev.FLOW_STATE,
        ev.FLOW_SITE,
        ev.RECONCILE_RESULT,
    }
)
