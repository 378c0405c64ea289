"""Durations (`15m`, `1h30m`, `2d`) and wall-clock times as a migration lead writes them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ..timestamps import short_duration
from .problems import clip

_DURATION = re.compile(
    r"^\s*(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m(?:in)?)?\s*"
    r"(?:(?P<s>\d+)\s*s)?\s*$",
    re.ASCII,  # 0-9 only, as in the JSON Schema editors check with (`١٥m` is no duration)
)
MAX_DURATION_S = 30 * 86400
_MAX_CHARS = 64  # longer text is no duration or time; never hand megabytes to a regex or int()
_TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


class TimeSyntaxError(ValueError):
    """A duration or time the plan cannot use; the message says what would be valid."""


def parse_duration(value: object) -> timedelta:
    """`90s`, `15m`, `1h30m`, `2d 4h` → timedelta. Bare numbers are refused: units matter."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TimeSyntaxError("a duration must be text (such as 15m, 1h30m or 2d)")
    if isinstance(value, int | float):
        raise TimeSyntaxError(f"'{value}' has no unit (write {value}m or {value}s)")
    match = _DURATION.match(value) if len(value) <= _MAX_CHARS else None
    if not value.strip() or not match or not any(match.groupdict().values()):
        raise TimeSyntaxError(
            f"'{clip(value)}' is not a duration (write e.g. 45s, 15m, 1h30m or 2d)"
        )
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    seconds = (
        parts.get("d", 0) * 86400
        + parts.get("h", 0) * 3600
        + parts.get("m", 0) * 60
        + parts.get("s", 0)
    )
    if seconds > MAX_DURATION_S:
        raise TimeSyntaxError(f"'{clip(value)}' is longer than any cutover step (at most 30d)")
    return timedelta(seconds=seconds)


def parse_time(value: object) -> datetime:
    """`2026-12-05 06:00` (the cutover's time zone) or ISO 8601 with an offset or `Z`."""
    if isinstance(value, datetime):
        return _sane(value, value)
    if not isinstance(value, str):
        raise TimeSyntaxError("a time must be text (such as 2026-12-05 06:00)")
    text = value.strip()
    if len(text) > _MAX_CHARS:
        text = ""  # falls through to "is not a time"
    for fmt in _TIME_FORMATS:
        try:
            return _sane(datetime.strptime(text, fmt), value)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or (len(text) <= 10 and "T" not in text and " " not in text):
        raise TimeSyntaxError(
            f"'{clip(value)}' is not a time (write YYYY-MM-DD HH:MM in the client's time zone, "
            "or ISO 8601 with an offset)"
        )
    return _sane(parsed, value)


def _sane(when: datetime, value: object) -> datetime:
    # Far-future years overflow date arithmetic (a step's end) and are always typos.
    if not 1970 <= when.year <= 2999:
        raise TimeSyntaxError(
            f"'{clip(str(value))}' is not a plausible cutover time (years 1970-2999)"
        )
    return when


def format_duration(delta: timedelta) -> str:
    """Short human form: `1h30m`, `45s`, `2d4h` (one formatter: `timestamps.short_duration`)."""
    return short_duration(delta)
