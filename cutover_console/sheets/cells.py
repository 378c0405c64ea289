"""Cell values as the plan needs them: durations, times, predecessor links, yes/no.

Each parser returns the value or raises CellError with what would have been valid; the importer
adds the cell, the header and the raw value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from ..plan.timeparse import MAX_DURATION_S, TimeSyntaxError, parse_duration, parse_time


class CellError(ValueError):
    """A value that cannot be used; `hint` says what would be valid."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


DURATION_HINT = (
    "write 90m, 1h30m, 01:30 or 2d; a bare number only under a header naming its unit, "
    "such as 'Duration (min)'"
)
_CLOCK = re.compile(r"^\s*(\d{1,4}):([0-5]\d)(?::([0-5]\d))?\s*$", re.ASCII)
_WORDS = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|"
    r"s|m|h|d|wks?|weeks?|w)\s*\??\s*$",
    re.ASCII | re.IGNORECASE,
)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EXCEL_1900 = datetime(1899, 12, 30)
_EXCEL_1904 = datetime(1904, 1, 1)


def _checked(seconds: float, raw: object) -> timedelta:
    if not math.isfinite(seconds) or seconds < 0:
        raise CellError("not a duration (negative or not a number)", DURATION_HINT)
    if seconds > MAX_DURATION_S:
        raise CellError("longer than any cutover step (at most 30d)", DURATION_HINT)
    whole = round(seconds)
    if abs(seconds - whole) > 0.01:  # Excel's day fractions carry float noise below that
        raise CellError("not a whole number of seconds", "round it to the second")
    return timedelta(seconds=whole)


def duration(value: object, unit: str | None) -> timedelta:
    """An Excel duration ([h]:mm → timedelta; h:mm → time), `h:mm`/`01:30` text, `90m`,
    `1h30m`, `2 days`, `30 mins`; a bare number only with the header's unit."""
    if isinstance(value, bool):
        raise CellError("true/false is not a duration", DURATION_HINT)
    if isinstance(value, timedelta):
        return _checked(value.total_seconds(), value)
    if isinstance(value, time):
        return _checked(value.hour * 3600 + value.minute * 60 + value.second, value)
    if isinstance(value, datetime):
        # A duration of a day or more in a h:mm cell reads as a date in 1900 (or 1904).
        for base in (_EXCEL_1900, _EXCEL_1904):
            if base <= value < base + timedelta(days=31):
                return _checked((value - base).total_seconds(), value)
        raise CellError("a date, not a duration", DURATION_HINT)
    if isinstance(value, int | float):
        if unit is None:
            raise CellError("a number without a unit", DURATION_HINT)
        return _checked(float(value) * _SECONDS[unit], value)
    if not isinstance(value, str):
        raise CellError("not a duration", DURATION_HINT)
    text = value.strip()
    if len(text) > 64:
        raise CellError("not a duration", DURATION_HINT)
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = (int(g or 0) for g in clock.groups())
        return _checked(hours * 3600 + minutes * 60 + seconds, value)
    if unit is not None and re.fullmatch(r"\d+(?:\.\d+)?", text, re.ASCII):
        return _checked(float(text) * _SECONDS[unit], value)
    words = _WORDS.match(text)
    if words:
        number, name = float(words.group(1)), words.group(2).lower()
        if name.startswith("w"):
            raise CellError(
                "weeks are ambiguous (working or calendar days)", "write the duration in days"
            )
        return _checked(number * _SECONDS[name[0]], value)
    try:
        return parse_duration(text)
    except TimeSyntaxError:
        raise CellError("not a duration", DURATION_HINT) from None


TIME_HINT = (
    "a date and time cell, or text YYYY-MM-DD HH:MM (in the plan's time zone), "
    "or M/D/YYYY H:MM [AM|PM]"
)
_US = re.compile(
    r"^\s*(?:[A-Za-z]{3,9},?\s+)?(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})"
    r"(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?\s*$",
    re.ASCII,
)


def when(value: object) -> datetime:
    """A date-time cell (openpyxl has applied the workbook's 1900 or 1904 epoch) or text: ISO
    `2026-12-05 06:00`, or US month-first `12/5/2026 6:00 AM` as MS Project writes it. Naive:
    the plan's zone applies."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = _text_time(value)
    else:
        raise CellError("not a date and time", TIME_HINT)
    if not 1970 <= moment.year <= 2999:
        raise CellError("not a plausible cutover time (years 1970-2999)", TIME_HINT)
    if moment.microsecond:  # a cell's day fraction: 06:00 may read as 05:59:59.999999
        moment = (moment + timedelta(microseconds=500_000)).replace(microsecond=0)
    return moment


def _text_time(value: str) -> datetime:
    text = value.strip()
    us = _US.match(text) if len(text) <= 64 else None
    if us:
        month, day, year, hour, minute, second, half = us.groups()
        y = int(year) + (2000 if len(year) == 2 else 0)
        h = int(hour or 0)
        if half:
            if not 1 <= h <= 12:
                raise CellError("not a time of day", TIME_HINT)
            h = h % 12 + (12 if half.lower() == "pm" else 0)
        try:
            return datetime(y, int(month), int(day), h, int(minute or 0), int(second or 0))
        except ValueError:
            raise CellError("not a date (month first: M/D/YYYY)", TIME_HINT) from None
    try:
        moment = parse_time(text if len(text) > 10 else f"{text} 00:00")
    except TimeSyntaxError:
        raise CellError("not a date and time", TIME_HINT) from None
    return moment


_YES = {"yes", "y", "true", "x", "1", "✓", "✔"}
_NO = {"no", "n", "false", "0", ""}


def yes_no(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    raise CellError("not yes or no", "write yes or no (or leave it empty)")


KINDS = {
    "task": "task",
    "go no go": "go_no_go",
    "go/no-go": "go_no_go",
    "go_no_go": "go_no_go",
    "gate": "go_no_go",
    "decision": "go_no_go",
    "milestone": "milestone",
    "validation": "validation",
    "test": "validation",
    "check": "validation",
}


def kind(value: object) -> str:
    if isinstance(value, str):
        key = value.strip().lower().replace("-", " ")
        found = KINDS.get(key) or KINDS.get(value.strip().lower())
        if found:
            return found
    raise CellError("not a step kind", "one of: task, go_no_go, milestone, validation")


@dataclass(frozen=True)
class Link:
    """One predecessor: `14FS+30m` → Link('14', 'FS', '+30m')."""

    target: str
    type: str = "FS"
    lag: str = ""  # as written, '' for none

    @property
    def plain(self) -> bool:
        """Finish-to-start without lag: what the plan's depends_on means."""
        return self.type == "FS" and not self.lag


_LINK = re.compile(
    r"^(?P<id>.+?)\s*(?P<type>FS|SS|FF|SF)?\s*"
    r"(?P<lag>(?:[+-]\s*\d+(?:\.\d+)?\s*e?(?:m|min|mins|minutes?|h|hrs?|hours?|d|days?|"
    r"w|wks?|weeks?|mo|mons?)|[+-]?\s*\d+(?:\.\d+)?\s*%)\??)?$",
    re.IGNORECASE | re.ASCII,
)
LINK_HINT = (
    "write ids separated by , or ; each optionally followed by FS, SS, FF or SF and a lag "
    "such as +30m"
)


def links(value: object, known: Collection[str]) -> list[Link]:
    """`14FS+30m; 15, 16SS` → links. An entry that is itself a known id is taken whole (ids
    such as `db-2` hold a minus sign)."""
    if isinstance(value, bool):
        raise CellError("not a list of predecessors", LINK_HINT)
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            raise CellError("not a list of predecessors", LINK_HINT)
        value = str(int(value))
    if not isinstance(value, str):
        raise CellError("not a list of predecessors", LINK_HINT)
    if len(value) > 10_000:
        raise CellError("too long for a list of predecessors", LINK_HINT)
    out: list[Link] = []
    for entry in re.split(r"[,;]", value):
        text = entry.strip()
        if not text:
            continue
        if text in known:
            out.append(Link(text))
            continue
        match = _LINK.match(text)
        if match is None:
            raise CellError(f"'{text[:40]}' is not a predecessor", LINK_HINT)
        target = match.group("id").strip()
        link_type = (match.group("type") or "FS").upper()
        lag = re.sub(r"\s+", "", match.group("lag") or "")
        if lag and re.fullmatch(r"[+-]0+(?:\.0+)?[a-z%]*\??", lag, re.IGNORECASE):
            lag = ""  # 14FS+0d is a plain link
        out.append(Link(target, link_type, lag))
    return out
