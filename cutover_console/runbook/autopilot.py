"""An autopilot that walks a plan through the real rules on a simulated clock.

Used by `cutover tabletop` (a tabletop rehearsal: every step run by its owner at its planned time,
sign-offs by eligible distinct people, gates the tabletop cannot evidence overridden by the lead
with a reason that says so). Nothing here bypasses the rules: every action goes through `Cutover`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from ..clock import ManualClock
from ..plan.model import Person, Plan, Step
from .actions import Cutover
from .rules import LEAD_ROLE

TABLETOP_REASON = "tabletop rehearsal: no live evidence, checked by walking through"


@dataclass
class StepOutcome:
    step: str
    started_at: datetime
    ended_at: datetime
    by: str
    signers: list[str] = field(default_factory=list)
    gates_overridden: list[str] = field(default_factory=list)


def owner_of(plan: Plan, step: Step) -> Person:
    """The person who does a step: the owner by id, else the first holder of the owner role."""
    for person in plan.people:
        if person.id == step.owner:
            return person
    for person in plan.people:
        if step.owner in person.roles:
            return person
    return lead_of(plan)


def lead_of(plan: Plan) -> Person:
    return next(p for p in plan.people if LEAD_ROLE in p.roles)


def choose_signers(plan: Plan, step: Step, doer: str) -> list[tuple[str, str]]:
    """(person, role) pairs that satisfy the step's sign-off: distinct people, others first, every
    role covered when `each_role` asks for it."""
    spec = step.signoff
    if spec is None:
        return []
    people = sorted(plan.people, key=lambda p: p.id == doer)  # the doer signs last, if at all
    chosen: list[tuple[str, str]] = []
    used: set[str] = set()
    if spec.each_role:
        for role in spec.roles:
            person = next((p for p in people if role in p.roles and p.id not in used), None)
            if person is not None:
                chosen.append((person.id, role))
                used.add(person.id)
    for candidate in people:
        if len(chosen) >= spec.count:
            break
        fits = next((r for r in spec.roles if r in candidate.roles), None)
        if fits is not None and candidate.id not in used:
            chosen.append((candidate.id, fits))
            used.add(candidate.id)
    return chosen


def run_tabletop(cutover: Cutover, clock: ManualClock) -> Iterator[StepOutcome]:
    """Drive every step at its planned time. Yields one outcome per completed step."""
    plan = cutover.state.plan
    lead = lead_of(plan).id
    schedule = cutover.state.schedule()
    moments: list[tuple[datetime, int, int, str]] = []
    for index, step_id in enumerate(schedule.order):
        slot = schedule.slots[step_id]
        moments.append((slot.start, 1, index, step_id))
        moments.append((slot.end, 0, index, step_id))  # ends before starts at the same minute
    started: dict[str, tuple[datetime, str]] = {}
    for when, is_start, _index, step_id in sorted(moments):
        if when > clock.now():
            clock.set(when)
        step = plan.step(step_id)
        if is_start:
            doer = owner_of(plan, step).id
            cutover.start(step_id, doer)
            started[step_id] = (clock.now(), doer)
            continue
        start_at, doer = started[step_id]
        overridden = []
        for gate in step.gates:
            assert gate.id is not None
            if not cutover.state.steps[step_id].gates[gate.id].satisfied:
                cutover.override_gate(step_id, gate.id, lead, TABLETOP_REASON)
                overridden.append(gate.id)
        signers = choose_signers(plan, step, doer)
        for person, role in signers:
            cutover.signoff(step_id, person, role=role)
        cutover.complete(step_id, doer)
        yield StepOutcome(step_id, start_at, clock.now(), doer, [p for p, _ in signers], overridden)
