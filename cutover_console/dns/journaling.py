"""Putting propagation into the journal: changes, not every answer.

A resolver's verdict for a record is journaled when its status or flags change; a record's summary
when its percent new or its flip ETA moves; the authorities' view when status, TTL or serials
change. DNS gates of the plan's steps are evaluated and journaled (on change) through `Cutover`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..clock import parse_ts
from ..journal import Actor, JournalReader
from ..journal import events as ev
from ..plan.model import Gate
from ..runbook import Cutover
from ..runbook.engine_journal import EngineJournal, Pending
from .evidence import DNS_GATES, gate_verdict
from .monitor import PropagationMonitor, _iso
from .tracker import pair_flips_by

ENGINE = Actor("engine:dns", "cutover")
ETA_STEP = timedelta(seconds=2)  # an ETA that moves less than this is not news


class DnsJournal(EngineJournal):
    """Remembers what was last journaled, so only changes are written."""

    engine = ENGINE
    checks = DNS_GATES

    def __init__(self, cutover: Cutover) -> None:
        super().__init__(cutover)
        self.verdicts: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
        self.records: dict[str, tuple[float, str | None]] = {}
        self.authorities: dict[str, tuple[str, int | None, tuple[tuple[str, int | None], ...]]] = {}
        self.ttl_history: dict[str, list[tuple[datetime, int]]] = {}
        self._resume(cutover.writer)

    def _resume(self, reader: JournalReader) -> None:
        """Continue from what the journal already says (after a restart)."""
        for event in reader.events():
            p = event.payload
            if event.kind == ev.DNS_VERDICT:
                self.verdicts[(p["resolver"], p["record"])] = (p["status"], tuple(p["flags"]))
            elif event.kind == ev.DNS_RECORD:
                self.records[p["record"]] = (p["percent_new"], p["eta"])
            elif event.kind == ev.DNS_AUTHORITY:
                serials = tuple(sorted((k, v) for k, v in p["serials"].items()))
                self.authorities[p["record"]] = (p["status"], p["ttl"], serials)
                if p["ttl"] is not None:
                    self.ttl_history.setdefault(p["record"], []).append(
                        (parse_ts(event.ts), int(p["ttl"]))
                    )

    def collect(self, monitor: PropagationMonitor) -> Pending:
        """What changed since the last call (remembered as journaled from now on)."""
        batch: list[tuple[str, dict[str, Any], Actor, str | None]] = []
        for record in monitor.records:
            for resolver in monitor.resolvers:
                pair = monitor.pairs[(resolver.key, record.key)]
                if pair.verdict is None:
                    continue
                state = (pair.status, tuple(sorted(pair.flags)))
                if self.verdicts.get((resolver.name, record.key)) != state:
                    self.verdicts[(resolver.name, record.key)] = state
                    v = pair.verdict
                    batch.append(
                        (
                            ev.DNS_VERDICT,
                            {
                                "record": record.key,
                                "resolver": resolver.name,
                                "status": v.status,
                                "answers": v.answers,
                                "ttl": v.ttl,
                                "observed_at": _iso(v.observed_at),
                                "flips_by": _iso(pair_flips_by(pair)),
                                "flags": list(state[1]),
                                "detail": v.detail,
                            },
                            ENGINE,
                            None,
                        )
                    )
            summary = monitor.record_summary(record)
            last = self.records.get(record.key)
            if last is None or last[0] != summary["percent_new"] or _moved(last[1], summary["eta"]):
                self.records[record.key] = (summary["percent_new"], summary["eta"])
                batch.append((ev.DNS_RECORD, {"record": record.key, **summary}, ENGINE, None))
            auth = monitor.authority[record.key]
            if auth.status != "pending":
                serials = tuple(sorted(auth.serials.items()))
                if self.authorities.get(record.key) != (auth.status, auth.ttl, serials):
                    self.authorities[record.key] = (auth.status, auth.ttl, serials)
                    batch.append(
                        (
                            ev.DNS_AUTHORITY,
                            {
                                "record": record.key,
                                "status": auth.status,
                                "ttl": auth.ttl,
                                "serials": dict(auth.serials),
                                "agree": auth.agree,
                            },
                            ENGINE,
                            None,
                        )
                    )
                    if auth.ttl is not None:
                        self.ttl_history.setdefault(record.key, []).append(
                            (monitor.clock.now(), auth.ttl)
                        )
        return Pending(batch, self.gate_results(monitor))

    def verdict(self, monitor: Any, gate: Gate) -> tuple[bool, str, dict[str, Any]]:
        return gate_verdict(monitor, gate, monitor.clock.now(), self.ttl_history)


def _moved(before: str | None, after: str | None) -> bool:
    if before is None or after is None:
        return before != after
    return abs(parse_ts_z(after) - parse_ts_z(before)) >= ETA_STEP


def parse_ts_z(text: str) -> datetime:
    return datetime.fromisoformat(text)
