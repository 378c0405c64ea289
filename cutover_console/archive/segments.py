"""Segments: the journal's events as immutable JSON Lines objects named by their seq range.

`segments/000000000001-000000000250.jsonl` holds events 1 to 250, one per line, each exactly as
`events.jsonl` of an export writes it (the event with its hash). A segment is written once and
never replaced; the next one starts at the following seq.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..journal.chain import Event, StoredRow, canonical_json, jsonl_line
from ..untrusted import inert

FOLDER = "segments"
MAX_SEGMENT_BYTES = 16 << 20  # what a reader accepts for one object
MAX_SEGMENT_EVENTS = 100_000
_NAME = re.compile(r"segments/(\d{12})-(\d{12})\.jsonl")
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "seq": int,
    "ts": str,
    "actor": str,
    "os_user": str,
    "kind": str,
    "step": (str, type(None)),
    "payload": dict,
    "v": int,
    "idem": (str, type(None)),
    "prev": str,
    "hash": str,
}


class SegmentProblem(Exception):
    """A segment that cannot be used: names the object and what is wrong (terminal-safe)."""


def segment_name(first: int, last: int) -> str:
    return f"{FOLDER}/{first:012d}-{last:012d}.jsonl"


def segment_range(name: str) -> tuple[int, int] | None:
    """(first, last) seq of a segment's name, or None for a name that is not a segment's."""
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    first, last = int(match.group(1)), int(match.group(2))
    if first < 1 or last < first or last - first >= MAX_SEGMENT_EVENTS:
        return None
    return first, last


def encode(events: list[Event]) -> bytes:
    return "".join(jsonl_line(e.body(), e.hash) + "\n" for e in events).encode("utf-8")


def decode(name: str, data: bytes) -> list[StoredRow]:
    """The rows of a segment, each with the exact fields of an event; the seqs its name says."""
    span = segment_range(name)
    if span is None:
        raise SegmentProblem(f"{inert(name)} is not a segment's name")
    first, last = span
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SegmentProblem(f"{name} is not UTF-8 text (byte {exc.start})") from None
    lines = text.split("\n")
    if lines[-1] != "":
        raise SegmentProblem(f"{name} does not end with a newline: it was cut")
    lines.pop()
    if len(lines) != last - first + 1:
        raise SegmentProblem(
            f"{name} holds {len(lines)} line(s), but its name says events {first}-{last} "
            f"({last - first + 1})"
        )
    rows = []
    for number, line in enumerate(lines, start=1):
        rows.append(_row(name, number, line, first + number - 1))
    return rows


def _row(name: str, number: int, line: str, seq: int) -> StoredRow:
    where = f"{name} line {number}"
    try:
        value: Any = json.loads(line)
    except (ValueError, RecursionError):
        raise SegmentProblem(f"{where} is not JSON") from None
    if type(value) is not dict or set(value) != set(_FIELDS):
        raise SegmentProblem(f"{where} is not an event (its fields are not an event's)")
    for key, kind in _FIELDS.items():
        item = value[key]
        if not isinstance(item, kind) or isinstance(item, bool):
            raise SegmentProblem(f"{where}: '{key}' has the wrong type")
    if value["seq"] != seq:
        raise SegmentProblem(f"{where} holds event {value['seq']}, where event {seq} belongs")
    try:
        payload = canonical_json(value["payload"])
    except (ValueError, RecursionError):
        raise SegmentProblem(f"{where}: the payload is not canonical JSON") from None
    return StoredRow(
        value["seq"],
        value["ts"],
        value["actor"],
        value["os_user"],
        value["kind"],
        value["step"],
        payload,
        value["v"],
        value["idem"],
        value["prev"],
        value["hash"],
    )
