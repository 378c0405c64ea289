"""Propagation by country and by network, from the vantage points' verdicts as journaled.

One function for the engine's JSON, the gate, the pane and the report alike: each reads rows of
the `dns.vantage` payload shape (point, country, asn, network, status, ttl, observed_at,
flips_by) and gets the same aggregates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

OLD = ("old", "mixed")
ANSWERED = ("new", "old", "mixed", "other", "nxdomain", "nodata")


def _ts(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def point_status(rows: list[dict[str, Any]]) -> str:
    """One point's status over its records: old if any is old, new if all are, else the rest."""
    statuses = [str(r.get("status")) for r in rows]
    if any(s in OLD for s in statuses):
        return "old"
    answered = [s for s in statuses if s in ANSWERED]
    if not answered:
        return statuses[0] if statuses else "pending"
    if all(s == "new" for s in answered):
        return "new"
    return "other"


@dataclass
class Group:
    """One country or one network."""

    key: str
    label: str
    points: int = 0
    answered: int = 0
    new: int = 0
    old: int = 0
    failed: int = 0
    ttl_left: int | None = None  # the longest remaining TTL of an old copy
    all_new_by: datetime | None = None  # the latest predicted flip of an old copy

    @property
    def percent_new(self) -> float:
        return round(100.0 * self.new / self.answered, 1) if self.answered else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "points": self.points,
            "answered": self.answered,
            "new": self.new,
            "old": self.old,
            "failed": self.failed,
            "percent_new": self.percent_new,
            "ttl_left": self.ttl_left,
            "all_new_by": _iso(self.all_new_by),
        }


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"  # as the DNS JSON


def by_point(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    points: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        points.setdefault(str(row.get("point")), []).append(row)
    return points


def aggregate(rows: Iterable[dict[str, Any]], now: datetime, by: str = "country") -> list[Group]:
    """Groups by `country` or by `asn` (network), most points first."""
    groups: dict[str, Group] = {}
    for _point, records in by_point(rows).items():
        first = records[0]
        if by == "country":
            key = str(first.get("country") or "??")
            label = key
        else:
            asn = first.get("asn")
            network = str(first.get("network") or "")
            key = f"AS{asn}" if asn else network or "?"
            label = f"{key} {network}".strip() if asn else key
        group = groups.setdefault(key, Group(key, label))
        group.points += 1
        status = point_status(records)
        if status in ANSWERED:
            group.answered += 1
            group.new += status == "new"
            group.old += status == "old"
        else:
            group.failed += 1
        for row in records:
            if row.get("status") not in OLD:
                continue
            seen, ttl, flips = _ts(row.get("observed_at")), row.get("ttl"), _ts(row.get("flips_by"))
            if seen is not None and isinstance(ttl, int):
                left = int(ttl - (now - seen).total_seconds())
                if left > 0 and (group.ttl_left is None or left > group.ttl_left):
                    group.ttl_left = left
            flips = flips or (
                seen + timedelta(seconds=ttl) if seen and isinstance(ttl, int) else None
            )
            if flips is not None and (group.all_new_by is None or flips > group.all_new_by):
                group.all_new_by = flips
    return sorted(groups.values(), key=lambda g: (-g.points, g.key))


def overall(rows: Iterable[dict[str, Any]]) -> tuple[int, int, float]:
    """(answered points, new points, percent new) over every point."""
    answered = new = 0
    for records in by_point(rows).values():
        status = point_status(records)
        if status in ANSWERED:
            answered += 1
            new += status == "new"
    return answered, new, round(100.0 * new / answered, 1) if answered else 0.0


def vantage_gate(
    rows: list[dict[str, Any]], percent: float, countries: list[str] | None, now: datetime
) -> tuple[bool, str, dict[str, Any]]:
    """The `dns_vantage` gate: at least `percent` % of the answering points new (in each of
    `countries` when given). A country with no answering point fails: no evidence is not new."""
    if countries:
        groups = {g.key: g for g in aggregate(rows, now, "country")}
        below = []
        for country in countries:
            group = groups.get(country.upper())
            if group is None or group.answered == 0 or group.percent_new < percent:
                below.append(
                    (
                        country.upper(),
                        group.percent_new if group else 0.0,
                        group.answered if group else 0,
                    )
                )
        if below:
            worst = min(below, key=lambda b: b[1])
            detail = (
                f"{len(below)} of {len(countries)} countries below {percent:g} % "
                f"(worst {worst[0]}: {worst[1]:g} % of {worst[2]} answering)"
            )
        else:
            detail = f"all {len(countries)} countries ≥ {percent:g} % new"
        return not below, detail, {"below": below, "percent": percent, "countries": countries}
    answered, new, pct = overall(rows)
    ok = answered > 0 and pct >= percent
    detail = (
        f"{pct:g} % of {answered} answering vantage points new (≥ {percent:g} % needed)"
        if answered
        else "no vantage point has answered yet"
    )
    return ok, detail, {"answered": answered, "new": new, "percent_new": pct, "percent": percent}
