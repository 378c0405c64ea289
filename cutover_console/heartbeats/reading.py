"""What a probe reports: one reading per poll, with per-site detail when the source has sites."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class SiteSeen:
    last_seen: datetime
    count: int | None = None


@dataclass(slots=True)
class Reading:
    """One poll of one probe. `ok` is False when the source could not be read or said "failed"."""

    ok: bool
    observed_at: datetime
    detail: str = ""
    latency_ms: float | None = None
    last_seen: datetime | None = None  # the newest arrival the source reports
    count: int | None = None
    sites: dict[str, SiteSeen] | None = None
    value: float | None = None
    values: list[Any] = field(default_factory=list)  # reconciliation: the row compared

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "observed_at": iso(self.observed_at),
            "detail": self.detail,
            "latency_ms": round(self.latency_ms, 1) if self.latency_ms is not None else None,
            "last_seen": iso(self.last_seen),
            "count": self.count,
        }
        if self.value is not None:
            out["value"] = self.value
        if self.values:
            out["values"] = [str(v) for v in self.values]
        if self.sites is not None:
            out["sites"] = len(self.sites)
        return out


def iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_time(value: Any, zone: str = "UTC") -> datetime | None:
    """A timestamp from a database row or command output; naive values are in `zone`."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    else:
        text = str(value).strip()
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), UTC)
        when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo(zone))
    return when.astimezone(UTC)
