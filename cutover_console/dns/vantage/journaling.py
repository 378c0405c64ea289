"""Putting the vantage points into the journal the way the resolvers' verdicts go: a point's
verdict for a record when its status or flags change (not every answer), a fault when it appears,
changes or clears. The `dns_vantage` gate is evaluated from what the engine holds and journaled
(on change) through `Cutover`, like the other DNS gates."""

from __future__ import annotations

from typing import Any

from ...journal import Actor, JournalReader
from ...journal import events as ev
from ...plan.model import Gate
from ...runbook import Cutover
from ...runbook.engine_journal import EngineJournal, Pending
from ...runbook.vantage_summary import vantage_gate
from .engine import VantageMonitor

ENGINE = Actor("engine:dns-vantage", "cutover")
VANTAGE_GATES = ("dns_vantage",)


class VantageJournal(EngineJournal):
    engine = ENGINE
    checks = VANTAGE_GATES

    def __init__(self, cutover: Cutover) -> None:
        super().__init__(cutover)
        self.verdicts: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
        self.faults: dict[str, str] = {}
        self._resume(cutover.writer)

    def _resume(self, reader: JournalReader) -> None:
        for event in reader.events():
            p = event.payload
            if event.kind == ev.DNS_VANTAGE:
                self.verdicts[(p["point"], p["record"])] = (p["status"], tuple(p.get("flags", ())))
            elif event.kind == ev.DNS_VANTAGE_FAULT:
                if p.get("active"):
                    self.faults[p["fault"]] = p.get("detail", "")
                else:
                    self.faults.pop(p["fault"], None)

    def collect(self, monitor: VantageMonitor) -> Pending:
        batch: list[tuple[str, dict[str, Any], Actor, str | None]] = []
        for row in monitor.rows():
            state = (row["status"], tuple(row["flags"]))
            key = (row["point"], row["record"])
            if self.verdicts.get(key) != state:
                self.verdicts[key] = state
                batch.append((ev.DNS_VANTAGE, row, ENGINE, None))
        for fault, detail in monitor.faults.items():
            if self.faults.get(fault) != detail:
                self.faults[fault] = detail
                payload = {"fault": fault, "active": True, "detail": detail}
                batch.append((ev.DNS_VANTAGE_FAULT, payload, ENGINE, None))
        for fault in [f for f in self.faults if f not in monitor.faults]:
            del self.faults[fault]
            payload = {"fault": fault, "active": False, "detail": "works again"}
            batch.append((ev.DNS_VANTAGE_FAULT, payload, ENGINE, None))
        return Pending(batch, self.gate_results(monitor))

    def verdict(self, monitor: Any, gate: Gate) -> tuple[bool, str, dict[str, Any]]:
        rows = monitor.rows()
        if gate.records:
            wanted = {n.rstrip(".").lower() for n in gate.records}
            rows = [r for r in rows if r["record"].split("/")[0] in wanted]
        return vantage_gate(rows, gate.percent, gate.countries, monitor.clock.now())
