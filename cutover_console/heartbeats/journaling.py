"""Heartbeats into the journal: status changes of flows, sites and reconciliations (not every
poll), gate evidence through `Cutover`, and log lines into their bounded table."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..journal import Actor, JournalReader
from ..journal import events as ev
from ..plan.model import Gate
from ..runbook import Cutover
from ..runbook.engine_journal import EngineJournal, Pending
from .evidence import FLOW_GATES, gate_verdict
from .flows import FlowMonitor
from .logs import LogLine
from .reading import iso

ENGINE = Actor("engine:flows", "cutover")
# Besides every status change, the newest arrival is journaled again once it has moved this far,
# so every view's "last seen" stays honest without an event per poll.
SIDE_REFRESH = timedelta(minutes=1)
SITE_REFRESH = timedelta(minutes=5)


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _changed(
    journaled: tuple[str, datetime | None] | None,
    status: str,
    seen: datetime | None,
    refresh: timedelta,
) -> bool:
    if journaled is None or journaled[0] != status:
        return True
    before = journaled[1]
    return seen is not None and (before is None or seen - before >= refresh)


class FlowJournal(EngineJournal):
    """Remembers what was last journaled, so only changes are written."""

    engine = ENGINE
    checks = FLOW_GATES

    def __init__(self, cutover: Cutover) -> None:
        super().__init__(cutover)
        # (status, newest arrival) as last journaled
        self.sides: dict[tuple[str, str], tuple[str, datetime | None]] = {}
        self.sites: dict[tuple[str, str], tuple[str, datetime | None]] = {}
        self.reconciled: dict[str, str] = {}
        self._resume(cutover.writer)

    def _resume(self, reader: JournalReader) -> None:
        for event in reader.events():
            p = event.payload
            if event.kind == ev.FLOW_STATE:
                self.sides[(p["flow"], p["side"])] = (p["status"], _when(p.get("last_seen")))
            elif event.kind == ev.FLOW_SITE:
                newest = max(
                    (t for t in (_when(p.get("last_old")), _when(p.get("last_new"))) if t),
                    default=None,
                )
                self.sites[(p["flow"], p["site"])] = (p["status"], newest)
            elif event.kind == ev.RECONCILE_RESULT:
                self.reconciled[p["reconciliation"]] = p["status"]

    def collect(self, monitor: FlowMonitor) -> Pending:
        """What changed since the last call (remembered as journaled from now on)."""
        batch: list[tuple[str, dict[str, Any], Actor, str | None]] = []
        for flow_id, state in monitor.flows.items():
            for side, side_state in state.sides.items():
                status = monitor.flow_status(flow_id, side)
                seen = side_state.last_seen
                if status != "unknown" and _changed(
                    self.sides.get((flow_id, side)), status, seen, SIDE_REFRESH
                ):
                    self.sides[(flow_id, side)] = (status, seen)
                    reading = side_state.reading
                    batch.append(
                        (
                            ev.FLOW_STATE,
                            {
                                "flow": flow_id,
                                "side": side,
                                "status": status,
                                "last_seen": iso(side_state.last_seen),
                                "detail": reading.detail if reading else "",
                            },
                            ENGINE,
                            None,
                        )
                    )
            for site, site_status in monitor.site_statuses(flow_id).items():
                s = state.sites[site]
                newest = max((t for t in (s.last_old, s.last_new) if t), default=None)
                if _changed(self.sites.get((flow_id, site)), site_status, newest, SITE_REFRESH):
                    self.sites[(flow_id, site)] = (site_status, newest)
                    batch.append(
                        (
                            ev.FLOW_SITE,
                            {
                                "flow": flow_id,
                                "site": site,
                                "status": site_status,
                                "last_old": iso(s.last_old),
                                "first_new": iso(s.first_new),
                                "last_new": iso(s.last_new),
                            },
                            ENGINE,
                            None,
                        )
                    )
        for rec_id, rec in monitor.reconciliations.items():
            if rec.result is not None and self.reconciled.get(rec_id) != rec.result["status"]:
                self.reconciled[rec_id] = rec.result["status"]
                batch.append(
                    (ev.RECONCILE_RESULT, {"reconciliation": rec_id, **rec.result}, ENGINE, None)
                )
        return Pending(batch, self.gate_results(monitor))

    def verdict(self, monitor: Any, gate: Gate) -> tuple[bool, str, dict[str, Any]]:
        return gate_verdict(monitor, gate)

    def record_logs(self, lines: list[LogLine]) -> None:
        self.cutover.writer.append_log_lines(
            [(iso(line.at) or "", line.source, line.side, line.level, line.text) for line in lines]
        )
