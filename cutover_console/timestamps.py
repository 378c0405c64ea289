"""Every timestamp the project writes, reads or shows: one module, one format per use.

- the journal's own: UTC, microseconds, `Z` (sortable as text) — `format_ts` / `parse_ts`;
- anything ISO 8601 from a payload, a probe or a plan (`Z` or an offset) — `parse_iso`;
- what people read: the cutover's zone, `Sat 18:12` for a moment in the weekend, `18:12:05`
  for a moment of today, and `3m20s ago` / `in 4m` relative to now. The clock bar adds the
  local zone; nothing else shows UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import overload


def format_ts(when: datetime) -> str:
    """Journal timestamps: UTC, microseconds, `Z` — sortable as text."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(text: str) -> datetime:
    """A journal timestamp. fromisoformat (which reads `Z` since 3.11) is ~30x faster than
    strptime; replay parses one per event."""
    return datetime.fromisoformat(text)


@overload
def parse_iso(value: str | datetime) -> datetime: ...
@overload
def parse_iso(value: str | datetime | None) -> datetime | None: ...
def parse_iso(value: str | datetime | None) -> datetime | None:
    """ISO 8601 (`Z`, an offset, or none: then UTC) to an aware datetime; None stays None."""
    if value is None:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def day_time(value: str | datetime | None, zone: tzinfo | None = None) -> str:
    """`Sat 18:12` in `zone` (a summary's ISO text already carries the cutover's zone)."""
    when = parse_iso(value or None)
    if when is None:
        return ""
    return f"{when.astimezone(zone) if zone is not None else when:%a %H:%M}"


def clock_time(value: str | datetime | None, zone: tzinfo | None = None) -> str:
    """`18:12:05` in `zone`."""
    when = parse_iso(value or None)
    if when is None:
        return ""
    return f"{when.astimezone(zone) if zone is not None else when:%H:%M:%S}"


def short_duration(delta: timedelta) -> str:
    """Short human form: `1h30m`, `45s`, `2d4h`; negative durations get a leading minus."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    out = "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
    if seconds and not days:
        out += f"{seconds}s"
    return sign + (out or "0m")


def ago(value: str | datetime | None, now: datetime, never: str = "never") -> str:
    """`3m20s ago` (or `never`)."""
    when = parse_iso(value or None)
    if when is None:
        return never
    return f"{short_duration(now - when)} ago"


def countdown(value: str | datetime | None, now: datetime, zone: tzinfo | None = None) -> str:
    """`18:12:05 (in 4m)`, or `18:12:05 (due)` once it has passed."""
    when = parse_iso(value or None)
    if when is None:
        return ""
    left = (when - now).total_seconds()
    return clock_time(when, zone) + (
        f" (in {short_duration(timedelta(seconds=left))})" if left > 0 else " (due)"
    )
