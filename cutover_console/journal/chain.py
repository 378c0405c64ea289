"""The hash chain: canonical event bodies, their hashes, and verification that names what broke.

An event's body is canonical JSON (sorted keys, no spaces, UTF-8) of every field including the
previous event's hash; its hash is SHA-256 of that body. Changing, removing, inserting or
reordering any event breaks the chain at a point we can name. A cut-off or wholesale-rewritten tail
is only visible against a checkpoint (seq + head hash) that someone wrote down.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


@dataclass(slots=True)  # not frozen: frozen init costs ~4x, and replay builds one per event
class Event:
    """One journaled fact (treat as immutable): `payload` is per kind, `v` its version."""

    seq: int
    ts: str
    actor: str
    os_user: str
    kind: str
    step: str | None
    payload: dict[str, Any]
    v: int
    idem: str | None
    prev: str
    hash: str

    def body(self) -> str:
        return event_body(
            self.seq,
            self.ts,
            self.actor,
            self.os_user,
            self.kind,
            self.step,
            self.payload,
            self.v,
            self.idem,
            self.prev,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "os_user": self.os_user,
            "kind": self.kind,
            "step": self.step,
            "payload": self.payload,
            "v": self.v,
            "idem": self.idem,
            "prev": self.prev,
            "hash": self.hash,
        }


def event_body(
    seq: int,
    ts: str,
    actor: str,
    os_user: str,
    kind: str,
    step: str | None,
    payload: dict[str, Any],
    v: int,
    idem: str | None,
    prev: str,
) -> str:
    return canonical_json(
        {
            "seq": seq,
            "ts": ts,
            "actor": actor,
            "os_user": os_user,
            "kind": kind,
            "step": step,
            "payload": payload,
            "v": v,
            "idem": idem,
            "prev": prev,
        }
    )


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A head someone wrote down: `SEQ:HASH`."""

    seq: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        seq, sep, digest = text.strip().partition(":")
        digest = digest.lower()
        if (
            not sep
            or not seq.isdigit()
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
        ):
            raise ValueError(f"'{text}' is not a checkpoint (expected SEQ:HASH, 64 hex digits)")
        return cls(int(seq), digest)

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


@dataclass
class ChainReport:
    """Outcome of a verification: ok, or the first problem with its sequence number."""

    count: int = 0
    head: Checkpoint | None = None
    problem: str | None = None
    bad_seq: int | None = None
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(slots=True)  # not frozen: verification builds one per event
class StoredRow:
    """A row as read back from storage, before we trust it."""

    seq: int
    ts: str
    actor: str
    os_user: str
    kind: str
    step: str | None
    payload_text: str
    v: int
    idem: str | None
    prev: str
    hash: str


def body_from_text(
    seq: int,
    ts: str,
    actor: str,
    os_user: str,
    kind: str,
    step: str | None,
    payload_text: str,
    v: int,
    idem: str | None,
    prev: str,
) -> str:
    """The canonical body with the payload's stored text spliced in verbatim.

    Equal to `event_body` when the payload text is canonical; when it is not (an edited row),
    the hash differs, which is exactly what verification must notice. No JSON parsing: verifying
    100,000 events is dominated by this function."""
    q, r = _quote, _quote_repeated
    return (
        f'{{"actor":{r(actor)},"idem":{q(idem)},"kind":{r(kind)},"os_user":{r(os_user)},'
        f'"payload":{payload_text},"prev":{q(prev)},"seq":{_number(seq)},"step":{r(step)},'
        f'"ts":{q(ts)},"v":{_number(v)}}}'
    )


_PLAIN = re.compile(r'[^"\\\x00-\x1f\x7f-\x9f\u2028\u2029]*')


def _quote(value: object) -> str:
    """json.dumps(value, ensure_ascii=False) for an event's short strings; fast when nothing
    in them needs escaping (almost always)."""
    if value is None:
        return "null"
    if isinstance(value, str) and _PLAIN.fullmatch(value):
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False)


# People, accounts, kinds and steps repeat across a journal: quoting each once saves a fifth of
# building the bodies. Bounded, so a journal of unique names costs only the misses.
_quote_repeated = functools.lru_cache(maxsize=4096)(_quote)


def _number(value: object) -> str:
    return str(value) if type(value) is int else json.dumps(value)


def recompute_hash(row: StoredRow, seq: int | None = None) -> str | None:
    """The hash the row's fields produce (with another seq, to spot moved events)."""
    if not isinstance(row.payload_text, str) or not isinstance(row.seq, int):
        return None
    return body_hash(
        body_from_text(
            row.seq if seq is None else seq,
            row.ts,
            row.actor,
            row.os_user,
            row.kind,
            row.step,
            row.payload_text,
            row.v,
            row.idem,
            row.prev,
        )
    )


def _original_seq(row: StoredRow, by_hash: dict[str, int]) -> int | None:
    """If the row is intact but renumbered, the sequence number its hash was made with."""
    candidates = set(range(max(1, row.seq - 64), row.seq + 65))
    if row.prev == GENESIS:
        candidates.add(1)
    elif row.prev in by_hash:
        candidates.add(by_hash[row.prev] + 2)  # the linked event's storage position + 1, 1-based
    candidates.discard(row.seq)
    for seq in sorted(candidates, key=lambda s: abs(s - row.seq)):
        if recompute_hash(row, seq) == row.hash:
            return seq
    return None


def verify_rows(
    rows: Iterable[StoredRow],
    expect: Checkpoint | None = None,
    *,
    ends_at: Checkpoint | None = None,
    position: str = "stored row",
    on_intact: Callable[[StoredRow, str, dict[str, Any]], None] | None = None,
) -> ChainReport:
    """Walk rows in storage order and report the first break, classified for a human.

    `malformed`: a row whose fields are NULL or of the wrong type (a hash over them means
    nothing); `changed`: an event's content no longer matches its hash (or, re-hashed, the next
    link); `missing`: a gap in sequence numbers, or events renumbered over one; `inserted`: an
    event the chain links past, or a second copy of one; `reordered`: an event that belongs
    elsewhere. With `expect` (a checkpoint someone wrote down, which the chain must contain) and
    `ends_at` (one the chain must end at, e.g. a signed one), also `truncated`, `rewritten` and
    `extended`. `position` names where a row is ("stored row", "line") in messages.

    `on_intact(row, body, payload)` is called for each row that continues the chain, with its
    canonical body and parsed payload, so a caller needing them does not build them again; a
    later row may still break the chain.
    """
    table = rows if isinstance(rows, list) else list(rows)
    report = ChainReport(count=len(table))
    prev_hash = GENESIS
    for index, row in enumerate(table):
        payload = _parsed_payload(row)
        if payload is None:
            return _malformed(report, row, index, position)
        body = body_from_text(
            row.seq,
            row.ts,
            row.actor,
            row.os_user,
            row.kind,
            row.step,
            row.payload_text,
            row.v,
            row.idem,
            row.prev,
        )
        if row.seq != index + 1 or row.prev != prev_hash or body_hash(body) != row.hash:
            if not (_HEX64.fullmatch(row.prev) and _HEX64.fullmatch(row.hash)):
                return _malformed(report, row, index, position)
            return _explain(report, table, index, position)
        if on_intact is not None:
            on_intact(row, body, payload)
        prev_hash = row.hash
    if table:
        report.head = Checkpoint(table[-1].seq, table[-1].hash)
    if expect is None and ends_at is None:
        return report
    hashes = {r.hash: r.seq for r in table}
    if ends_at is not None:
        _check_expectation(report, ends_at, hashes, "the signed checkpoint")
        if report.ok and report.head is not None and report.head.seq > ends_at.seq:
            _fail(
                report,
                ends_at.seq + 1,
                "extended",
                f"the journal goes on past the signed checkpoint (event {ends_at.seq}) to "
                f"event {report.head.seq}",
            )
    if expect is not None and report.ok:
        _check_expectation(report, expect, hashes, "the checkpoint")
    return report


_HEX64 = re.compile("[0-9a-f]{64}")
MAX_PAYLOAD_VALUES = 1_000_000
"""JSON values one payload may hold: parsing turns `{},` (3 bytes) into a dict (~70 bytes), so
the count, not the length, bounds the memory a hostile payload takes."""


def json_values(text: str) -> int:
    """An upper bound on the values in a JSON text (each is a container or follows a comma),
    cheap to take before parsing it."""
    return text.count(",") + text.count("{") + text.count("[") + 1


def _parsed_payload(row: StoredRow) -> dict[str, Any] | None:
    """The parsed payload if every field has the type the writer gives it and the payload is a
    JSON object, else None: without this a row of NULLs hashes as `null`s and passes. (That
    prev and hash are 64 hex digits follows once they equal a verified hash; a row that does
    not continue the chain is checked for it before its break is explained.)"""
    if not (
        type(row.seq) is int
        and row.seq > 0
        and type(row.v) is int
        and type(row.ts) is str
        and type(row.actor) is str
        and type(row.os_user) is str
        and type(row.kind) is str
        and (row.step is None or type(row.step) is str)
        and (row.idem is None or type(row.idem) is str)
        and type(row.prev) is str
        and type(row.hash) is str
        and type(row.payload_text) is str
    ):
        return None
    if len(row.payload_text) > MAX_PAYLOAD_VALUES and _too_many_values(row.payload_text):
        return None
    try:
        payload = json.loads(row.payload_text)
    except (ValueError, RecursionError):
        return None
    return payload if type(payload) is dict else None


def _malformed(report: ChainReport, row: StoredRow, index: int, position: str) -> ChainReport:
    return _fail(
        report,
        row.seq if type(row.seq) is int else None,
        "malformed",
        f"{position} {index + 1} (seq {_shown(row.seq)}): {_malformation(row)}",
    )


def _too_many_values(text: str) -> bool:
    return json_values(text) > MAX_PAYLOAD_VALUES


def _malformation(row: StoredRow) -> str:
    """What is wrong with a row `_parsed_payload` refused (or whose prev or hash is not a
    hash), in words: the first bad field."""
    if type(row.seq) is not int or row.seq < 1:
        return f"seq is {_shown(row.seq)}, not a whole number from 1"
    if type(row.v) is not int:
        return f"v is {_shown(row.v)}, not a whole number"
    for name in ("ts", "actor", "os_user", "kind", "step", "idem"):
        value = getattr(row, name)
        if type(value) is not str and not (value is None and name in ("step", "idem")):
            return f"{name} is {_shown(value)}, not text"
    for name in ("prev", "hash"):
        value = getattr(row, name)
        if type(value) is not str or not _HEX64.fullmatch(value):
            return f"{name} is {_shown(value)}, not 64 lowercase hex digits"
    if type(row.payload_text) is not str:
        return f"the payload is {_shown(row.payload_text)}, not JSON text"
    if _too_many_values(row.payload_text):
        return f"the payload holds more than {MAX_PAYLOAD_VALUES:,} JSON values"
    return "the payload is not a JSON object"


def _shown(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray):
        return f"a blob of {len(value)} bytes"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:39]}…"


def _explain(report: ChainReport, table: list[StoredRow], index: int, position: str) -> ChainReport:
    """Name the break at `table[index]`, the first row that does not continue the chain (the rows
    before it are intact and linked). Only reached on failure, so it may look at the whole table."""
    row = table[index]
    expected = index + 1
    before = table[index - 1] if index else None
    first_with: dict[str, int] = {}
    for i, r in enumerate(table):
        if type(r.hash) is str:
            first_with.setdefault(r.hash, i)
    seqs = {r.seq for r in table if type(r.seq) is int}
    intact_as = row.seq if recompute_hash(row) == row.hash else _original_seq(row, first_with)
    # The stored row after this one links to the event before it, and nothing links to this
    # one: it is not part of the chain at all.
    after = table[index + 1] if index + 1 < len(table) else None
    skipped = (
        after is not None
        and after.prev == (before.hash if before else GENESIS)
        and all(r.prev != row.hash for r in table)
    )
    if intact_as is not None and first_with.get(row.hash, index) < index:
        return _fail(
            report,
            row.seq,
            "inserted",
            f"event {row.seq} ({row.kind}) is stored twice: {position} {index + 1} is a copy "
            f"of {position} {first_with[row.hash] + 1}",
        )
    if row.seq > expected and expected not in seqs:
        gap = f"{expected}" if row.seq == expected + 1 else f"{expected}-{row.seq - 1}"
        return _fail(report, expected, "missing", f"event(s) {gap} missing before event {row.seq}")
    linked_to = -1 if row.prev == GENESIS else first_with.get(row.prev)
    if intact_as is not None and intact_as > row.seq and linked_to is None:
        return _fail(
            report,
            row.seq,
            "missing",
            f"event(s) {_span(row.seq, intact_as - 1)} missing: the event stored as "
            f"{row.seq} ({row.kind}) is event {intact_as}, renumbered",
        )
    if intact_as is not None and linked_to is not None and linked_to < index - 1:
        return _linked_past(report, table, index, linked_to, position)
    if skipped and (intact_as is None or row.prev != (before.hash if before else GENESIS)):
        return _fail(
            report,
            row.seq,
            "inserted",
            f"event {row.seq} ({row.kind}) at {position} {index + 1} was inserted: it is not "
            f"linked to the event before it, and the next stored event is",
        )
    if row.seq != expected:
        return _fail(
            report,
            row.seq,
            "reordered",
            f"event {row.seq} is stored where event {expected} belongs",
        )
    if intact_as is None:
        return _fail(
            report,
            row.seq,
            "changed",
            f"event {row.seq} ({row.kind}) no longer matches its hash",
        )
    if intact_as != row.seq:
        return _fail(
            report,
            row.seq,
            "reordered",
            f"the event stored as {row.seq} ({row.kind}) is event {intact_as}, moved",
        )
    if before is None:
        return _fail(
            report,
            row.seq,
            "changed",
            "the first event does not start the chain (its prev is not genesis)",
        )
    if linked_to is not None:  # a later stored row: the links run out of storage order
        return _fail(
            report,
            row.seq,
            "reordered",
            f"event {row.seq} links to event {table[linked_to].seq}, not to event {before.seq}",
        )
    return _fail(
        report,
        before.seq,
        "changed",
        f"event {before.seq} ({before.kind}) was changed and re-hashed: event "
        f"{row.seq} recorded a different hash for it",
    )


def _linked_past(
    report: ChainReport, table: list[StoredRow], index: int, linked_to: int, position: str
) -> ChainReport:
    """`table[index]` is intact but follows `table[linked_to]`, further back than the row before
    it: two branches leave that event. The one the rest of the chain continues from is the
    original; the other was inserted (when neither continues, say both)."""
    row, skipped = table[index], table[linked_to + 1 : index]
    later_links = {r.prev for r in table[index + 1 :] if type(r.prev) is str}
    origin = f"event {table[linked_to].seq}" if linked_to >= 0 else "the start of the chain"
    row_goes_on, skipped_go_on = row.hash in later_links, skipped[-1].hash in later_links
    if row_goes_on or (not skipped_go_on and index + 1 < len(table)):
        # the chain continues from this row (or from neither, and this row is not the last):
        # the skipped rows are the branch that was added
        first, last = skipped[0], skipped[-1]
        what = (
            f"event {first.seq} ({first.kind}) was"
            if first is last
            else f"events {first.seq}-{last.seq} were"
        )
        return _fail(
            report,
            first.seq,
            "inserted",
            f"{what} inserted: the next stored event, {row.seq}, links past "
            f"{'it' if first is last else 'them'} to {origin}",
        )
    if skipped_go_on:
        return _fail(
            report,
            row.seq,
            "inserted",
            f"event {row.seq} ({row.kind}) at {position} {index + 1} was inserted: it follows "
            f"{origin}, like {position} {linked_to + 2}, from which the chain goes on",
        )
    return _fail(
        report,
        row.seq,
        "inserted",
        f"{position}s {linked_to + 2} and {index + 1} both follow {origin}: one was inserted",
    )


def _span(first: int, last: int) -> str:
    return f"{first}" if first == last else f"{first}-{last}"


def _check_expectation(
    report: ChainReport, expect: Checkpoint, hashes_seen: dict[str, int], name: str
) -> ChainReport:
    head_seq = report.head.seq if report.head else 0
    if head_seq < expect.seq:
        return _fail(
            report,
            head_seq + 1,
            "truncated",
            f"the journal ends at event {head_seq} but {name} is at event "
            f"{expect.seq}: events were cut off",
        )
    if hashes_seen.get(expect.hash) != expect.seq:
        return _fail(
            report,
            expect.seq,
            "rewritten",
            f"event {expect.seq} differs from {name} {expect.seq}:"
            f"{expect.hash[:12]}…: history was rewritten (or the checkpoint is wrong)",
        )
    return report


def _fail(report: ChainReport, seq: int | None, kind: str, message: str) -> ChainReport:
    report.problem = f"{kind}: {message}"
    report.bad_seq = seq
    return report


def jsonl_line(body: str, digest: str) -> str:
    """The `events.jsonl` line of the event with canonical `body` and hash `digest`:
    `json.dumps(sort_keys=True, ensure_ascii=False, separators=(",", ":"))` of the event with
    its hash. The hash key sorts between actor and idem; the first `,"idem":` is the key,
    since a quote inside the actor's string is always escaped."""
    return body.replace(',"idem":', f',"hash":"{digest}","idem":', 1)
