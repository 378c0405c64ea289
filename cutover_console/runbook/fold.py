"""Current state of a cutover, as a fold over its journal events.

Every view (the console, watchers, status, reports) is this fold. It is incremental: `apply` one
event at a time, so a watcher keeps up by applying what is new.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..clock import parse_ts
from ..journal import events as ev
from ..journal.chain import Checkpoint, Event
from ..plan import Plan, PlanDocument, load_plan_text
from ..plan.schedule import Actual, Schedule, project

Status = Literal["pending", "in_progress", "done", "failed", "skipped", "rolled_back"]
FINISHED: frozenset[str] = frozenset({"done", "skipped"})


@dataclass
class SignOffRecord:
    person: str
    role: str
    at: datetime
    seq: int
    evidence: dict[str, Any] = field(default_factory=dict)


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
class StepState:
    id: str
    status: Status = "pending"
    started_at: datetime | None = None
    started_by: str | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    reason: str = ""
    attempt: int = 0
    signoffs: list[SignOffRecord] = field(default_factory=list)
    earlier_signoffs: list[SignOffRecord] = field(default_factory=list)
    gates: dict[str, GateState] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    history: list[int] = field(default_factory=list)  # seqs of every event about this step


@dataclass
class CutoverState:
    """Everything known about one cutover at the last applied event."""

    document: PlanDocument
    created_at: datetime
    rehearsal: bool = False
    steps: dict[str, StepState] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    point_of_no_return_at: datetime | None = None
    head: Checkpoint | None = None
    count: int = 0
    last_at: datetime | None = None

    @property
    def plan(self) -> Plan:
        return self.document.plan

    @classmethod
    def from_events(cls, events: Iterable[Event]) -> CutoverState:
        iterator = iter(events)
        first = next(iterator, None)
        if first is None or first.kind != ev.JOURNAL_CREATED:
            raise ValueError("a journal starts with journal.created")
        plan = first.payload["plan"]
        state = cls(
            document=load_plan_text(plan["text"], plan.get("file", "<journal>")),
            created_at=parse_ts(first.ts),
            rehearsal=bool(first.payload.get("rehearsal", False)),
        )
        state._sync_steps()
        state._mark(first)
        for event in iterator:
            state.apply(event)
        return state

    def _sync_steps(self) -> None:
        for step in self.plan.steps:
            current = self.steps.setdefault(step.id, StepState(step.id))
            for gate in step.gates:
                assert gate.id is not None
                current.gates.setdefault(gate.id, GateState(gate.id))

    def _mark(self, event: Event) -> None:
        self.head = Checkpoint(event.seq, event.hash)
        self.count = event.seq
        self.last_at = parse_ts(event.ts)

    def apply(self, event: Event) -> None:
        """Fold one event in. Events about unknown steps are kept in history, never dropped."""
        at = parse_ts(event.ts)
        kind, payload, person = event.kind, event.payload, event.actor
        step = self.steps.get(event.step) if event.step else None
        if step is not None:
            step.history.append(event.seq)
        if kind == ev.STEP_STARTED and step:
            step.status, step.started_at, step.started_by = "in_progress", at, person
            step.ended_at = step.ended_by = None
            step.reason = ""
            step.attempt += 1
        elif kind in (ev.STEP_COMPLETED, ev.STEP_FAILED, ev.STEP_SKIPPED, ev.STEP_ROLLED_BACK) and step:
            step.status = {
                ev.STEP_COMPLETED: "done", ev.STEP_FAILED: "failed",
                ev.STEP_SKIPPED: "skipped", ev.STEP_ROLLED_BACK: "rolled_back",
            }[kind]  # type: ignore[assignment]
            step.ended_at, step.ended_by = at, person
            step.reason = str(payload.get("reason", ""))
            if kind == ev.STEP_COMPLETED and self.plan_step_is_ponr(step.id) \
                    and self.point_of_no_return_at is None:
                self.point_of_no_return_at = at
        elif kind == ev.STEP_REOPENED and step:
            step.status = "pending"
            step.started_at = step.started_by = step.ended_at = step.ended_by = None
            step.reason = str(payload.get("reason", ""))
            step.earlier_signoffs.extend(step.signoffs)
            step.signoffs = []
        elif kind == ev.STEP_SIGNED_OFF and step:
            step.signoffs.append(SignOffRecord(person, str(payload.get("role", "")), at, event.seq,
                                               dict(payload.get("evidence", {}))))
        elif kind == ev.NOTE_ADDED:
            note = Note(person, str(payload.get("text", "")), at, event.seq, event.step)
            (step.notes if step else self.notes).append(note)
        elif kind == ev.GATE_EVALUATED and step:
            gate = step.gates.setdefault(str(payload["gate"]), GateState(str(payload["gate"])))
            gate.ok, gate.detail, gate.at = bool(payload.get("ok")), str(payload.get("detail", "")), at
            gate.evidence = dict(payload.get("evidence", {}))
        elif kind == ev.GATE_OVERRIDDEN and step:
            gate = step.gates.setdefault(str(payload["gate"]), GateState(str(payload["gate"])))
            gate.overridden_by, gate.override_reason = person, str(payload.get("reason", ""))
            gate.override_seq = event.seq
            self.overrides.append(Override(event.step, "override gate", [f"gate:{gate.id}"],
                                           gate.override_reason, person, at, event.seq))
        elif kind == ev.PLAN_REVISED:
            plan = payload["plan"]
            self.document = load_plan_text(plan["text"], plan.get("file", "<journal>"))
            self.revisions.append({"seq": event.seq, "at": at, "by": person,
                                   "sha256": plan["sha256"], "reason": payload.get("reason", "")})
            self._sync_steps()
        elif kind == ev.JOURNAL_RECOVERED:
            self.recoveries.append({"seq": event.seq, "at": at, **payload})
        overrides = payload.get("overrides") if isinstance(payload, dict) else None
        if overrides:
            self.overrides.append(Override(event.step, kind, [str(o) for o in overrides],
                                           str(payload.get("override_reason", "")), person, at,
                                           event.seq))
        self._mark(event)

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

    def progress(self) -> tuple[int, int]:
        """(finished steps, steps in the plan)."""
        ids = [s.id for s in self.plan.steps]
        return sum(1 for i in ids if self.steps[i].status in FINISHED), len(ids)
