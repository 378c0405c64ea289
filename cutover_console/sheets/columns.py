"""Which column is which: header synonyms from the Cutover.com upload template, MS Project and
Smartsheet exports, and the plan's own words; `--map HEADER=field` for anything else."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# field → what it does in the plan (shown when a header is unknown)
FIELDS: dict[str, str] = {
    "id": "the step's id (predecessors refer to it)",
    "title": "the step's title",
    "phase": "the phase (stream) the step belongs to",
    "duration": "how long the step takes",
    "predecessors": "steps that must finish first",
    "owner": "the person who owns the step",
    "team": "the team (a role) that owns the step",
    "not_before": "the step may not start before this time",
    "start": "planned start (the earliest sets the window's start)",
    "finish": "planned end (sets the window's end)",
    "instructions": "what to do",
    "kind": "task, go_no_go, milestone or validation",
    "rollback": "how to undo the step",
    "point_of_no_return": "yes when the step cannot be rolled back",
    "ignore": "a column left out on purpose",
}

# Matched after `normal()`: case, spaces, punctuation and a trailing unit in brackets ignored.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "task id", "step id", "unique id", "task number", "no", "number", "key"),
    "title": ("title", "name", "task name", "task", "step", "summary", "activity", "step title"),
    "phase": ("stream", "phase", "workstream", "group", "stage", "section", "phase id"),
    "duration": (
        "duration", "planned duration", "estimated duration", "est duration", "baseline duration",
        "time", "effort",
    ),
    "predecessors": (
        "predecessors", "predecessor ids", "predecessor", "depends on", "dependencies",
        "dependency", "after",
    ),
    "owner": (
        "owner", "assigned to", "assignee", "resource names", "resource name", "resources",
        "responsible", "person", "assigned user", "user",
    ),
    "team": ("assigned team", "team", "role", "resource group", "owning team", "group name"),
    "not_before": (
        "planned fixed date time", "fixed date time", "not before", "fixed start",
        "constraint date", "earliest start", "start no earlier than",
    ),
    "start": ("start", "start date", "planned start", "scheduled start", "start time"),
    "finish": (
        "finish", "end", "end date", "finish date", "planned end", "planned finish",
        "scheduled finish", "end time",
    ),
    "instructions": ("description", "instructions", "notes", "comments", "details", "how"),
    "kind": ("kind", "step kind", "task type", "type"),
    "rollback": ("rollback", "rollback plan", "back out", "backout", "fallback"),
    "point_of_no_return": ("point of no return", "ponr", "no return"),
    "ignore": (
        "percent complete", "complete", "status", "done", "gates", "sign off", "sign offs",
        "signoff", "outline level", "wbs", "row id", "work", "cost", "at risk", "slack",
        "total slack", "critical", "milestone", "baseline start", "baseline finish",
        "actual start", "actual finish", "actual duration", "remaining duration", "modified",
        "created", "indicators",
    ),
}  # fmt: skip

_UNITS = {
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
}  # fmt: skip
_UNIT_IN_HEADER = re.compile(r"[(\[]\s*([a-z]+)\s*[)\]]\s*$|\bin\s+([a-z]+)\s*$")


def normal(header: str) -> str:
    """`Predecessor IDs` → `predecessor ids`; `% Complete` → `percent complete`."""
    text = header.replace("%", " percent ").lower()
    text = re.sub(r"[(\[][^)\]]*[)\]]", " ", text)  # a unit in brackets
    text = re.sub(r"[^a-z0-9]+", " ", text).strip()
    if text.startswith("percent ") and text != "percent complete":
        text = text.removeprefix("percent ")
    if text == "complete percent":
        text = "percent complete"
    return text


_LOOKUP = {normal(s): name for name, words in SYNONYMS.items() for s in words}


def header_unit(header: str) -> str | None:
    """`Duration (min)` → `m`; `Duration in hours` → `h`; None without a unit."""
    match = _UNIT_IN_HEADER.search(header.strip().lower())
    if match is None:
        return None
    return _UNITS.get(match.group(1) or match.group(2))


@dataclass(frozen=True)
class Column:
    index: int  # 0-based
    header: str
    field: str
    unit: str | None = None


def field_of(header: str, mapping: dict[str, str]) -> str | None:
    """The field a header names: `--map` first (exactly or normalised), then the synonyms."""
    if header in mapping:
        return mapping[header]
    key = normal(header)
    for given, target in mapping.items():
        if normal(given) == key:
            return target
    return _LOOKUP.get(key)


def could_be(header: str) -> list[str]:
    """The fields an unknown header is closest to (by its synonyms), best first."""
    key = normal(header)
    if not key or len(key) > 64:
        return []
    near = difflib.get_close_matches(key, list(_LOOKUP), n=6, cutoff=0.6)
    fields: list[str] = []
    for word in near:
        if _LOOKUP[word] not in fields and _LOOKUP[word] != "ignore":
            fields.append(_LOOKUP[word])
    for name in FIELDS:  # a header holding a field's name, e.g. "Owner email"
        if name != "ignore" and name.replace("_", " ") in key and name not in fields:
            fields.append(name)
    return fields[:3]


def header_score(row: tuple[object, ...]) -> int:
    """How many cells of a row are known headers (the header row is the first with 2+)."""
    return sum(1 for v in row if isinstance(v, str) and normal(v) in _LOOKUP)
