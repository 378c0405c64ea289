"""What an engine hands to the journal: observations collected on the engine's loop, written on
the journal's thread (so a disk's fsync never stalls probing or the screen)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ..journal import Actor
from ..plan.model import Gate
from .actions import Cutover

GateResult = tuple[str, str, bool, str, dict[str, Any]]  # step, gate, ok, detail, evidence


@dataclass
class Pending:
    events: list[tuple[str, dict[str, Any], Actor, str | None]] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)


class EngineJournal(ABC):
    """An engine's memory of what it last journaled: subclasses `collect` the changes on the
    engine's loop; `write` journals them (on the journal's thread, in the console)."""

    engine: Actor

    def __init__(self, cutover: Cutover) -> None:
        self.cutover = cutover

    checks: tuple[str, ...] = ()  # the gate checks this engine can evidence

    @abstractmethod
    def collect(self, monitor: Any) -> Pending:
        """The changes since the last call (each engine defines what a change is)."""

    @abstractmethod
    def verdict(self, monitor: Any, gate: Gate) -> tuple[bool, str, dict[str, Any]]:
        """(ok, detail, evidence) for one gate this engine evidences."""

    def gate_results(self, monitor: Any) -> list[GateResult]:
        """Verdicts for this engine's gates on every step not finished yet."""
        out: list[GateResult] = []
        for step in self.cutover.state.plan.steps:
            if self.cutover.state.steps[step.id].status in ("done", "skipped"):
                continue
            for gate in step.gates:
                if gate.check in self.checks:
                    assert gate.id is not None
                    out.append((step.id, gate.id, *self.verdict(monitor, gate)))
        return out

    def write(self, pending: Pending) -> int:
        return write_pending(self.cutover, pending, self.engine.person)

    def record(self, monitor: Any) -> int:
        """Collect and write in one go (the headless commands)."""
        return self.write(self.collect(monitor))


def write_pending(cutover: Cutover, pending: Pending, source: str) -> int:
    """Journal the observations (one transaction) and the gate verdicts that changed."""
    written = cutover.record_many(pending.events)
    for step, gate, ok, detail, evidence in pending.gates:
        if cutover.record_gate(step, gate, ok, detail, evidence, source=source) is not None:
            written += 1
    return written
