"""Reading a witness prefix, and checking a bundle against it.

The bundle's signature only says that the key holder made it. The witness says what the key
holder published while the cutover ran, where they can no longer change it: a bundle whose
journal does not extend every published checkpoint (and hold the very events archived in the
segments) was rewritten, cut or extended after the fact, however well it is signed.

Everything read from a prefix is untrusted: sizes are bounded before reading, names are parsed
strictly, every message passes the untrusted-text boundary.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from ..journal.chain import StoredRow
from ..untrusted import inert
from .checkpoints import FOLDER as CHECKPOINTS
from .checkpoints import (
    MAX_CHECKPOINT_BYTES,
    CheckpointProblem,
    PublishedCheckpoint,
    checkpoint_seq,
    signer_of,
)
from .location import ArchiveLocation
from .objects import ArchiveFault, ObjectStore, StoredObject, open_store
from .segments import FOLDER as SEGMENTS
from .segments import MAX_SEGMENT_BYTES, SegmentProblem, decode, segment_range

READERS = 16  # objects read at once: a witness of thousands of checkpoints is network-bound
IN_FLIGHT = 4 * READERS  # objects read ahead of the one being used

T = TypeVar("T")
R = TypeVar("R")


def parallel(fn: Callable[[T], R], items: list[T]) -> Iterator[R]:
    """`map(fn, items)` on a few threads, in order; the first exception is raised in order.
    At most `IN_FLIGHT` results wait at a time, whatever the number of items (100,000 tiny
    segments once held every result at once: issue 21)."""
    if len(items) < 4:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="witness") as pool:
        waiting: deque[Future[R]] = deque()
        upcoming = iter(items)
        for item in itertools.islice(upcoming, IN_FLIGHT):
            waiting.append(pool.submit(fn, item))
        try:
            while waiting:
                result = waiting.popleft().result()
                for item in itertools.islice(upcoming, 1):
                    waiting.append(pool.submit(fn, item))
                yield result
        finally:
            for future in waiting:
                future.cancel()


class WitnessRefused(Exception):
    """The prefix witnesses another cutover (or another journal of it): nothing to compare."""


class WitnessProblem(Exception):
    """The witness or the bundle disagree, or an object of the witness cannot be used."""


@dataclass
class Witnessed:
    checkpoints: list[PublishedCheckpoint]  # by seq
    signer: str  # the fingerprint of the key that signed them all ("" when there are none)
    notes: list[str] = field(default_factory=list)

    @property
    def latest(self) -> PublishedCheckpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None


def read_checkpoints(
    store: ObjectStore,
    *,
    cutover: str | None = None,
    journal: str | None = None,
    signer: str | None = None,
) -> Witnessed:
    """Every checkpoint of the prefix, each signed (by one key: `signer` when given) and of one
    journal (`journal`, the hash of its first event) of one cutover (`cutover`)."""
    objects = store.list(CHECKPOINTS)
    by_name = {o.name: o for o in objects}
    found: list[PublishedCheckpoint] = []
    signers: dict[str, str] = {}
    notes: list[str] = []
    pairs: list[tuple[StoredObject, StoredObject]] = []
    for obj in objects:
        if checkpoint_seq(obj.name) is None:
            if not (obj.name.endswith(".sig") and checkpoint_seq(obj.name[:-4]) is not None):
                notes.append(f"{inert(obj.name)}: not a checkpoint's name, ignored")
            continue
        signature = by_name.get(f"{obj.name}.sig")
        if signature is None:
            raise WitnessProblem(f"{obj.name} has no signature ({obj.name}.sig is missing)")
        pairs.append((obj, signature))
        for written in (obj, signature):
            if written.newer_versions:
                notes.append(
                    f"{written.name} was written again {written.newer_versions} time(s) after "
                    "it was published; its first version (locked) is the one checked"
                )

    def check(pair: tuple[StoredObject, StoredObject]) -> tuple[PublishedCheckpoint, str]:
        obj, signature = pair
        data = store.read(obj, MAX_CHECKPOINT_BYTES)
        checkpoint = PublishedCheckpoint.parse(obj.name, data)
        return checkpoint, signer_of(obj.name, data, store.read(signature, MAX_CHECKPOINT_BYTES))

    try:
        for (obj, _sig), (checkpoint, fingerprint) in zip(
            pairs, parallel(check, pairs), strict=True
        ):
            signers.setdefault(fingerprint, obj.name)
            found.append(checkpoint)
    except (CheckpointProblem, ArchiveFault) as exc:
        raise WitnessProblem(str(exc)) from None
    _check_identity(store.location, found, cutover, journal)
    if signer is not None and signers.keys() - {signer}:
        other = next(iter(signers.keys() - {signer}))
        raise WitnessProblem(
            f"key mismatch: the witness's checkpoints ({signers[other]} and the others) are "
            f"signed by {other}, the bundle by {signer}. That is another key, not by itself "
            "another history: the bundle was exported with a key other than the one the "
            "publisher signed with (exports took the key from the working directory before), "
            "or by someone else. Nothing was compared; ask for a bundle exported with the "
            f"witness's key, or check that the journal itself matches: cutover verify JOURNAL "
            "--witness ..."
        )
    if len(signers) > 1:
        raise WitnessProblem(
            "the checkpoints are signed by different keys: "
            + ", ".join(f"{fp} ({name})" for fp, name in signers.items())
        )
    found.sort(key=lambda c: c.seq)
    return Witnessed(found, next(iter(signers), ""), notes)


def _check_identity(
    where: ArchiveLocation,
    found: list[PublishedCheckpoint],
    cutover: str | None,
    journal: str | None,
) -> None:
    cutovers = sorted({c.cutover for c in found} | ({cutover} if cutover else set()))
    if len(cutovers) > 1:
        others = [c for c in cutovers if c != cutover] if cutover else cutovers
        theirs = next(c for c in found if c.cutover in others)
        mine = f"; this journal is of cutover '{cutover}'" if cutover else ""
        raise WitnessRefused(
            f"refused: {where} holds checkpoints of another cutover: "
            f"'{', '.join(others)}' ({theirs.name}){mine}. Use the prefix of this cutover"
        )
    journals = {c.journal for c in found} | ({journal} if journal else set())
    if len(journals) > 1:
        theirs = next(c for c in found if journal is None or c.journal != journal)
        raise WitnessRefused(
            f"refused: {where} holds checkpoints of another journal of cutover "
            f"'{theirs.cutover}' (its first event hashes to {theirs.journal[:16]}…, "
            f"{theirs.name}): a rehearsal and the live run each need their own prefix"
        )


def segment_objects(store: ObjectStore) -> tuple[list[tuple[int, int, StoredObject]], list[str]]:
    """The segments by first seq, and notes on objects that are not segments."""
    spans: list[tuple[int, int, StoredObject]] = []
    notes: list[str] = []
    for obj in store.list(SEGMENTS):
        span = segment_range(obj.name)
        if span is None:
            notes.append(f"{inert(obj.name)}: not a segment's name, ignored")
            continue
        if obj.newer_versions:
            notes.append(
                f"{obj.name} was written again {obj.newer_versions} time(s); its first "
                "version (locked) is the one read"
            )
        spans.append((*span, obj))
    spans.sort(key=lambda s: (s[0], s[1]))
    return spans, notes


@dataclass
class WitnessReport:
    ok: bool
    problem: str = ""
    checked: int = 0
    latest: PublishedCheckpoint | None = None
    archived_to: int = 0  # the last event the segments hold
    unwitnessed: int = 0  # events of the bundle after the latest checkpoint
    notes: list[str] = field(default_factory=list)


def verify_witness(bundle: Path, where: str, signer: str) -> WitnessReport:
    """After the bundle itself verified (signed by `signer`): every checkpoint published in
    `where` is in its journal (the SQLite copy and the JSON Lines, the same hash at the same
    seq), and every event of the segments is the bundle's event of that seq."""

    def sources() -> tuple[list[tuple[str, dict[int, str]]], str]:
        jsonl_hashes, cutover = _jsonl_hashes(bundle / "events.jsonl")
        sqlite_hashes = _sqlite_hashes(bundle / "journal.sqlite")
        return [("journal.sqlite", sqlite_hashes), ("events.jsonl", jsonl_hashes)], cutover

    return _verify_against(where, sources, signer)


def verify_journal_witness(journal: Path, where: str) -> WitnessReport:
    """`--witness` on a journal itself (no bundle, so no signature to hold the witness's to):
    every checkpoint published in `where` is in the journal, and every archived event is the
    journal's event of that seq. Its notes name the key that signed the checkpoints."""

    def sources() -> tuple[list[tuple[str, dict[int, str]]], str]:
        from ..journal import JournalReader

        with JournalReader(journal) as reader:
            hashes = {row.seq: row.hash for row in reader.raw_rows()}
            first = next(reader.events(), None)
            cutover = str(first.payload.get("cutover", "")) if first is not None else ""
        return [(journal.name, hashes)], cutover

    return _verify_against(where, sources, None)


def _verify_against(
    where: str,
    sources: Callable[[], tuple[list[tuple[str, dict[int, str]]], str]],
    signer: str | None,
) -> WitnessReport:
    try:
        location = ArchiveLocation.parse(where)
        store = open_store(location)
        hashed, cutover = sources()
        _name, sqlite_hashes = hashed[0]
        witnessed = read_checkpoints(
            store, cutover=cutover, journal=hashed[-1][1].get(1), signer=signer
        )
        if not witnessed.checkpoints:
            raise WitnessProblem(f"{location} holds no checkpoint: nothing was witnessed there")
        head = len(sqlite_hashes)
        for checkpoint in witnessed.checkpoints:
            for source, hashes in hashed:
                _compare(checkpoint, head, hashes, source)
        spans, notes = segment_objects(store)
        archived = _compare_segments(store, spans, sqlite_hashes)
        if signer is None:
            notes.append(f"the checkpoints are signed by {witnessed.signer}")
    except (WitnessRefused, WitnessProblem, ArchiveFault) as exc:
        return WitnessReport(False, inert(str(exc), limit=2000))
    latest = witnessed.latest
    assert latest is not None
    return WitnessReport(
        True,
        checked=len(witnessed.checkpoints),
        latest=latest,
        archived_to=archived,
        unwitnessed=head - latest.seq,
        notes=witnessed.notes + notes,
    )


def _compare(checkpoint: PublishedCheckpoint, head: int, hashes: dict[int, str], name: str) -> None:
    short = f"{checkpoint.seq}:{checkpoint.hash[:12]}…"
    if checkpoint.seq > head:
        raise WitnessProblem(
            f"truncated: {name} ends at event {head}, but checkpoint {short} was published at "
            f"{checkpoint.at}: events were cut off"
        )
    if hashes.get(checkpoint.seq) != checkpoint.hash:
        raise WitnessProblem(
            f"rewritten: event {checkpoint.seq} of {name} differs from the checkpoint {short} "
            f"published at {checkpoint.at}: history was rewritten (re-signed after the fact)"
        )


def _compare_segments(
    store: ObjectStore, spans: list[tuple[int, int, StoredObject]], hashes: dict[int, str]
) -> int:
    archived = 0

    def rows_of(span: tuple[int, int, StoredObject]) -> list[StoredRow]:
        return decode(span[2].name, store.read(span[2], MAX_SEGMENT_BYTES))

    try:
        for (_first, last, obj), rows in zip(spans, parallel(rows_of, spans), strict=True):
            archived = max(archived, _compare_rows(obj, rows, hashes, last))
    except SegmentProblem as exc:
        raise WitnessProblem(str(exc)) from None
    return archived


def _compare_rows(
    obj: StoredObject, rows: list[StoredRow], hashes: dict[int, str], last: int
) -> int:
    for row in rows:
        if row.seq not in hashes:
            raise WitnessProblem(
                f"truncated: the witness archived event {row.seq} ({obj.name}), but the "
                f"bundle ends at event {len(hashes)}: events were cut off"
            )
        if hashes[row.seq] != row.hash:
            raise WitnessProblem(
                f"rewritten: event {row.seq} of the bundle differs from the one archived in "
                f"{obj.name}: history was rewritten"
            )
    return last


def _sqlite_hashes(path: Path) -> dict[int, str]:
    """seq -> hash of the bundle's journal (already verified by `verify_bundle`), immutable."""
    conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True)
    try:
        conn.execute("PRAGMA trusted_schema = OFF")
        return {int(s): str(h) for s, h in conn.execute("SELECT seq, hash FROM events")}
    except sqlite3.Error as exc:
        raise WitnessProblem(f"journal.sqlite cannot be read: {exc}") from None
    finally:
        conn.close()


def _jsonl_hashes(path: Path) -> tuple[dict[int, str], str]:
    """seq -> hash of events.jsonl (verified too), and the cutover id of its first event."""
    hashes: dict[int, str] = {}
    cutover = ""
    try:
        with path.open("rb") as handle:
            for line in handle:
                event = json.loads(line)
                hashes[int(event["seq"])] = str(event["hash"])
                if event["seq"] == 1:
                    cutover = str(event["payload"].get("cutover", ""))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WitnessProblem(f"events.jsonl cannot be read: {type(exc).__name__}") from None
    return hashes, cutover
