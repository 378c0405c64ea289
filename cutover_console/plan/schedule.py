"""Forward scheduling: when each step starts and ends, and which chain of steps sets the end.

A step starts at max(origin, now, not_before, end of every predecessor) — the rule ICEFLO and
practitioners use for a live forecast. With no `now` and no actuals it is the planned schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from .model import Plan


@dataclass(frozen=True, slots=True)
class Actual:
    """What the journal knows about a step's timing."""

    start: datetime | None = None
    end: datetime | None = None
    finished: bool = False


@dataclass(frozen=True, slots=True)
class Slot:
    step: str
    start: datetime
    end: datetime
    driver: (
        str  # "origin", "now", "not_before", "actual" or the id of the predecessor that gates it
    )


@dataclass(frozen=True)
class Schedule:
    slots: dict[str, Slot]
    order: list[str]

    @property
    def end(self) -> datetime:
        return max(slot.end for slot in self.slots.values())

    def critical_path(self) -> list[str]:
        """The chain of steps, first to last, that determines the end time."""
        last = max(self.slots.values(), key=lambda s: (s.end, self.order.index(s.step)))
        chain = [last.step]
        while chain[-1] in self.slots and self.slots[chain[-1]].driver in self.slots:
            chain.append(self.slots[chain[-1]].driver)
        return list(reversed(chain))


def topological_order(plan: Plan) -> list[str]:
    """Steps in an order that respects depends_on, stable with respect to the file order.

    Assumes no cycles (crossrefs rejects them); unknown dependencies are ignored.
    """
    ids = [s.id for s in plan.steps]
    known = set(ids)
    deps = {s.id: [d for d in s.depends_on if d in known] for s in plan.steps}
    done: set[str] = set()
    order: list[str] = []
    while len(order) < len(ids):
        progressed = False
        for step_id in ids:
            if step_id not in done and all(d in done for d in deps[step_id]):
                order.append(step_id)
                done.add(step_id)
                progressed = True
        if not progressed:  # a cycle: append the rest in file order rather than loop forever
            order.extend(i for i in ids if i not in done)
            break
    return order


def project(
    plan: Plan,
    origin: datetime,
    actuals: Mapping[str, Actual] | None = None,
    now: datetime | None = None,
) -> Schedule:
    """Forecast every step from `origin`, honouring actual starts and ends where known."""
    actuals = actuals or {}
    order = topological_order(plan)
    by_id = {s.id: s for s in plan.steps}
    slots: dict[str, Slot] = {}
    for step_id in order:
        step = by_id[step_id]
        actual = actuals.get(step_id, Actual())
        if actual.finished:
            end = actual.end or actual.start or origin
            slots[step_id] = Slot(step_id, actual.start or end, end, "actual")
            continue
        if actual.start is not None:
            end = actual.start + step.duration
            if now is not None and now > end:
                end = now  # overrunning: it ends no earlier than now
            slots[step_id] = Slot(step_id, actual.start, end, "actual")
            continue
        start, driver = origin, "origin"
        if now is not None and now > start:
            start, driver = now, "now"
        if step.not_before is not None and step.not_before > start:
            start, driver = step.not_before, "not_before"
        for dep in step.depends_on:
            if dep in slots and slots[dep].end > start:
                start, driver = slots[dep].end, dep
        slots[step_id] = Slot(step_id, start, start + step.duration, driver)
    return Schedule(slots, order)


def planned(plan: Plan) -> Schedule:
    """The plan's own schedule, from the start of preparation (or of the change window)."""
    return project(plan, plan.cutover.origin)
