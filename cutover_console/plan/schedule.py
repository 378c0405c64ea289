"""Forward scheduling: when each step starts and ends, and which chain of steps sets the end.

A step starts at max(origin, now, not_before, end of every predecessor) — the rule ICEFLO and
practitioners use for a live forecast. With no `now` and no actuals it is the planned schedule.
"""

from __future__ import annotations

from collections import deque
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
        position = {step_id: i for i, step_id in enumerate(self.order)}  # not order.index per step
        last = max(self.slots.values(), key=lambda s: (s.end, position[s.step]))
        chain = [last.step]
        seen = {last.step}
        while chain[-1] in self.slots and self.slots[chain[-1]].driver in self.slots:
            driver = self.slots[chain[-1]].driver
            if driver in seen:  # only a hand-built schedule can loop; never spin on one
                break
            seen.add(driver)
            chain.append(driver)
        return list(reversed(chain))


def topological_order(plan: Plan) -> list[str]:
    """Steps in an order that respects depends_on, stable with respect to the file order.

    The order is that of repeated passes over the file, each taking every step whose dependencies
    are already taken; computed in linear time: a step's pass is the latest of its dependencies'
    passes, one later for a dependency that comes after it in the file. Steps in (or behind) a
    cycle, which crossrefs rejects, follow in file order; unknown dependencies are ignored.
    """
    index: dict[str, int] = {}
    for i, step in enumerate(plan.steps):
        index.setdefault(step.id, i)
    deps = {s.id: [d for d in s.depends_on if d in index] for s in plan.steps}
    waiting = {step_id: len(set(d)) for step_id, d in deps.items()}
    dependents: dict[str, list[str]] = {step_id: [] for step_id in index}
    for step_id, d in deps.items():
        for dep in set(d):
            dependents[dep].append(step_id)
    passes: dict[str, int] = {}
    ready = deque(step_id for step_id in index if waiting[step_id] == 0)
    while ready:
        step_id = ready.popleft()
        passes[step_id] = max(
            (passes[d] + (index[d] > index[step_id]) for d in deps[step_id]), default=1
        )
        for later in dependents[step_id]:
            waiting[later] -= 1
            if waiting[later] == 0:
                ready.append(later)
    order = sorted(passes, key=lambda i: (passes[i], index[i]))
    return order + [i for i in index if i not in passes]


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
