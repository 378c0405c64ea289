"""From what the engine observed to what a step's gate needs: TTL pre-flight and gate verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from ..plan.model import Gate
from .classify import TrackedRecord
from .monitor import PropagationMonitor, _iso


@dataclass(frozen=True)
class Preflight:
    """Was the TTL lowered long enough ago for every high-TTL copy to have expired?"""

    record: str
    expected_ttl: int | None
    authority_ttl: int | None
    lowered: bool
    lowered_at: datetime | None
    previous_ttl: int | None
    safe_at: datetime | None
    safe_now: bool
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "expected_ttl": self.expected_ttl,
            "authority_ttl": self.authority_ttl,
            "lowered": self.lowered,
            "lowered_at": _iso(self.lowered_at),
            "previous_ttl": self.previous_ttl,
            "safe_at": _iso(self.safe_at),
            "safe_now": self.safe_now,
            "reason": self.reason,
        }


def preflight(
    monitor: PropagationMonitor,
    record: TrackedRecord,
    now: datetime,
    history: list[tuple[datetime, int]] | None = None,
) -> Preflight:
    """Decide from the authorities' TTL history (journal + this run) and, when that history does
    not reach back to the lowering, from the remaining TTLs the resolvers report."""
    auth = monitor.authority[record.key]
    current = auth.ttl
    expected = record.ttl if record.ttl is not None else current
    timeline = sorted((history or []) + auth.ttl_history)
    made = partial(Preflight, record.key, expected, current)
    if current is None or expected is None:
        return made(
            lowered=False,
            lowered_at=None,
            previous_ttl=None,
            safe_at=None,
            safe_now=False,
            reason="the authorities did not answer for this record",
        )
    if current > expected:
        return made(
            lowered=False,
            lowered_at=None,
            previous_ttl=None,
            safe_at=None,
            safe_now=False,
            reason=f"the authorities still publish TTL {current} s (plan: {expected} s)",
        )
    higher = [(at, ttl) for at, ttl in timeline if ttl > expected]
    if higher:
        last_high_at, previous = higher[-1]
        lowered_at = next(
            (at for at, ttl in timeline if at > last_high_at and ttl <= expected), last_high_at
        )
        safe_at = lowered_at + timedelta(seconds=previous)
        safe = now >= safe_at
        reason = (
            f"TTL lowered from {previous} s at {_iso(lowered_at)}; old copies expire by "
            f"{_iso(safe_at)}"
        )
        return made(
            lowered=True,
            lowered_at=lowered_at,
            previous_ttl=previous,
            safe_at=safe_at,
            safe_now=safe,
            reason=reason,
        )
    # No higher TTL on record: trust what the caches report right now.
    remaining = 0
    for resolver in monitor.resolvers:
        verdict = monitor.pairs[(resolver.key, record.key)].verdict
        if verdict is not None and verdict.ttl is not None and verdict.status in ("old", "mixed"):
            left = verdict.ttl - (now - verdict.observed_at).total_seconds()
            remaining = max(remaining, int(left))
    safe_at = now + timedelta(seconds=max(0, remaining - expected))
    safe = remaining <= expected
    reason = (
        f"no cached copy has more than {expected} s left"
        if safe
        else f"a cached copy still has {remaining} s left (more than {expected} s)"
    )
    return made(
        lowered=True,
        lowered_at=None,
        previous_ttl=None,
        safe_at=safe_at,
        safe_now=safe,
        reason=reason,
    )


def gate_verdict(
    monitor: PropagationMonitor,
    gate: Gate,
    now: datetime,
    history: dict[str, list[tuple[datetime, int]]] | None = None,
) -> tuple[bool, str, dict[str, Any]]:
    """(ok, detail, evidence) for a dns_propagated, ttl_lowered or authority_new gate."""
    wanted = {n.rstrip(".").lower() for n in gate.records} if gate.records else None
    records = [r for r in monitor.records if wanted is None or r.name in wanted]
    if not records:
        return False, "no records to check", {}
    if gate.check == "dns_propagated":
        below = []
        for record in records:
            summary = monitor.record_summary(record)
            if summary["healthy"] == 0 or summary["percent_new"] < gate.percent:
                below.append((record.name, summary["percent_new"], summary["healthy"]))
        worst = min(below, key=lambda b: b[1]) if below else None
        detail = (
            f"all {len(records)} record(s) ≥ {gate.percent:g} % new"
            if not below
            else f"{len(below)} of {len(records)} below {gate.percent:g} % "
            f"(worst {worst[0]}: {worst[1]:g} % of {worst[2]} healthy)"
            if worst
            else ""
        )
        return (
            not below,
            detail,
            {"below": below[:20], "records": len(records), "percent": gate.percent},
        )
    if gate.check == "ttl_lowered":
        checks = [preflight(monitor, r, now, (history or {}).get(r.key)) for r in records]
        bad = [c for c in checks if not (c.lowered and c.safe_now)]
        safe_at = max((c.safe_at for c in checks if c.safe_at), default=None)
        detail = (
            f"TTL lowered and safe on all {len(records)} record(s)"
            if not bad
            else f"{len(bad)} record(s) not safe yet: {bad[0].record}: {bad[0].reason}"
        )
        return (
            not bad,
            detail,
            {"safe_at": _iso(safe_at), "not_safe": [c.as_json() for c in bad[:20]]},
        )
    if gate.check == "authority_new":
        not_new = [
            (r.name, monitor.authority[r.key].status)
            for r in records
            if monitor.authority[r.key].status != "new"
        ]
        serials = dict(monitor.authority[records[0].key].serials)
        agree = len(set(serials.values())) == 1 and None not in serials.values()
        if not_new:
            detail = (
                f"{len(not_new)} record(s) not new at the authorities "
                f"(first: {not_new[0][0]} is {not_new[0][1]})"
            )
        elif not agree:
            detail = f"the authorities disagree on the zone serial: {serials}"
        else:
            detail = f"every authority serves the new value (serial {next(iter(serials.values()))})"
        return not not_new and agree, detail, {"not_new": not_new[:20], "serials": serials}
    raise ValueError(f"{gate.check} is not a DNS gate")


DNS_GATES = ("dns_propagated", "ttl_lowered", "authority_new")
