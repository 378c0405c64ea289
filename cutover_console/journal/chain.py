"""The hash chain: canonical event bodies, their hashes, and verification that names what broke.

An event's body is canonical JSON (sorted keys, no spaces, UTF-8) of every field including the
previous event's hash; its hash is SHA-256 of that body. Changing, removing, inserting or
reordering any event breaks the chain at a point we can name. A cut-off or wholesale-rewritten tail
is only visible against a checkpoint (seq + head hash) that someone wrote down.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
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
    q = _quote
    return (
        f'{{"actor":{q(actor)},"idem":{q(idem)},"kind":{q(kind)},"os_user":{q(os_user)},'
        f'"payload":{payload_text},"prev":{q(prev)},"seq":{_number(seq)},"step":{q(step)},'
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


def _original_seq(row: StoredRow, table: list[StoredRow], by_hash: dict[str, int]) -> int | None:
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


def verify_rows(rows: Iterable[StoredRow], expect: Checkpoint | None = None) -> ChainReport:
    """Walk rows in storage order and report the first break, classified for a human.

    `changed`: an event's content no longer matches its hash (or, re-hashed, the next link);
    `missing`: a gap in sequence numbers; `reordered`: an event that belongs elsewhere;
    `inserted`: an event that the chain links past. With `expect`, also `truncated` and
    `rewritten` against a checkpoint.
    """
    table = list(rows)
    report = ChainReport(count=len(table))
    by_hash = {row.hash: index for index, row in enumerate(table)}
    seqs = {row.seq for row in table}
    prev_hash = GENESIS
    for index, row in enumerate(table):
        expected = index + 1 if index == 0 else table[index - 1].seq + 1
        if row.seq != expected:
            if row.seq < expected or expected in seqs:
                return _fail(
                    report,
                    row.seq,
                    "reordered",
                    f"event {row.seq} is stored where event {expected} belongs",
                )
            gap = f"{expected}" if row.seq == expected + 1 else f"{expected}-{row.seq - 1}"
            return _fail(
                report, expected, "missing", f"event(s) {gap} missing before event {row.seq}"
            )
        if recompute_hash(row) != row.hash:
            moved_from = _original_seq(row, table, by_hash)
            if moved_from is not None:
                return _fail(
                    report,
                    row.seq,
                    "reordered",
                    f"the event stored as {row.seq} ({row.kind}) is event {moved_from}, moved",
                )
            return _fail(
                report,
                row.seq,
                "changed",
                f"event {row.seq} ({row.kind}) no longer matches its hash",
            )
        if row.prev != prev_hash:
            before = table[index - 1] if index else None
            if before is None:
                return _fail(
                    report,
                    row.seq,
                    "changed",
                    "the first event does not start the chain (its prev is not genesis)",
                )
            if index >= 2 and row.prev == table[index - 2].hash:
                return _fail(
                    report,
                    before.seq,
                    "inserted",
                    f"event {before.seq} ({before.kind}) was inserted: event {row.seq} "
                    f"links past it to event {table[index - 2].seq}",
                )
            if row.prev in by_hash:
                return _fail(
                    report,
                    row.seq,
                    "reordered",
                    f"event {row.seq} links to event {table[by_hash[row.prev]].seq}, "
                    f"not to event {before.seq}",
                )
            return _fail(
                report,
                before.seq,
                "changed",
                f"event {before.seq} ({before.kind}) was changed and re-hashed: event "
                f"{row.seq} recorded a different hash for it",
            )
        prev_hash = row.hash
    if table:
        report.head = Checkpoint(table[-1].seq, table[-1].hash)
    if expect is not None:
        return _check_expectation(report, expect, {r.hash: r.seq for r in table})
    return report


def _check_expectation(
    report: ChainReport, expect: Checkpoint, hashes_seen: dict[str, int]
) -> ChainReport:
    head_seq = report.head.seq if report.head else 0
    if head_seq < expect.seq:
        return _fail(
            report,
            head_seq + 1,
            "truncated",
            f"the journal ends at event {head_seq} but the checkpoint is at event "
            f"{expect.seq}: events were cut off",
        )
    if hashes_seen.get(expect.hash) != expect.seq:
        return _fail(
            report,
            expect.seq,
            "rewritten",
            f"event {expect.seq} differs from the checkpoint {expect.seq}:"
            f"{expect.hash[:12]}…: history was rewritten (or the checkpoint is wrong)",
        )
    return report


def _fail(report: ChainReport, seq: int, kind: str, message: str) -> ChainReport:
    report.problem = f"{kind}: {message}"
    report.bad_seq = seq
    return report
