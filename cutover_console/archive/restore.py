"""Rebuilding a journal from its archive on another machine.

The segments must hold events 1, 2, … without a gap, chain intact, and every published checkpoint
must be in them with its hash; then the journal is written (the very events, hashes unchanged)
and the restore is journaled as a recovery naming where it came from. A missing or altered
segment names the gap or the object and nothing is written, unless `up_to_last_good`: then the
journal ends at the last event known good, and its recovery event says it is shorter and why.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path

from ..journal import Actor, Checkpoint, JournalWriter
from ..journal import events as ev
from ..journal.chain import StoredRow, verify_rows
from .checkpoints import PublishedCheckpoint
from .location import ArchiveLocation
from .objects import ArchiveFault, ObjectStore, StoredObject, open_store
from .segments import MAX_SEGMENT_BYTES, SegmentProblem, decode
from .witness import (
    WitnessProblem,
    WitnessRefused,
    parallel,
    read_checkpoints,
    segment_objects,
)


class RestoreRefused(Exception):
    """Nothing was written: the archive cannot give a journal that is complete (or any)."""


@dataclass
class Restored:
    journal: Path
    head: Checkpoint
    checkpoints: int
    latest: PublishedCheckpoint | None
    signer: str
    complete: bool
    shortfall: str = ""  # why a shorter journal is shorter
    notes: list[str] = field(default_factory=list)


def restore(
    source: str,
    journal: Path,
    *,
    up_to_last_good: bool = False,
    signer: str | None = None,
) -> Restored:
    """Rebuild `journal` (a new file) from the archive at `source` (s3://… or a directory)."""
    location = ArchiveLocation.parse(source)
    store = open_store(location)
    collecting = gc.isenabled()
    gc.disable()  # a hundred thousand rows and no cycles
    try:
        try:
            spans, notes = segment_objects(store)
            rows, problem, good = _read_segments(store, spans)
            if not rows:
                raise RestoreRefused(f"{location} holds no events to restore ({problem or ''})")
            first = rows[0]
            cutover = _cutover_of(first)
            witnessed = read_checkpoints(store, cutover=cutover, journal=first.hash, signer=signer)
        except (WitnessProblem, WitnessRefused, ArchiveFault) as exc:
            raise RestoreRefused(str(exc)) from None
        chain = verify_rows(rows[:good])
        if not chain.ok:
            bad = chain.bad_seq or 1
            problem = problem or f"{_holding(spans, bad)}: {chain.problem}"
            good = min(good, bad - 1)
        checked = 0
        for checkpoint in witnessed.checkpoints:
            if checkpoint.seq > good:
                if not problem:
                    problem = (
                        f"checkpoint {checkpoint.seq} was published at {checkpoint.at}, but the "
                        f"segments end at event {good}: events {good + 1}-{checkpoint.seq} are "
                        "missing"
                    )
                break
            if rows[checkpoint.seq - 1].hash != checkpoint.hash:
                problem = (
                    f"{_holding(spans, checkpoint.seq)}: event {checkpoint.seq} differs from "
                    f"the checkpoint published at {checkpoint.at}: the segment was altered"
                )
                earlier = [c.seq for c in witnessed.checkpoints[:checked]]
                good = max(earlier, default=0)
                break
            checked += 1
        if problem and not up_to_last_good:
            raise RestoreRefused(
                f"{problem}. Nothing written; `--up-to-last-good` writes the journal up to "
                f"event {good}, marked as shorter"
            )
        if good < 1:
            raise RestoreRefused(f"{problem}. Not even the first event is good: nothing written")
        kept = rows[:good]
        del rows
        writer = JournalWriter.restore(journal, kept)
    finally:
        if collecting:
            gc.enable()
    head = Checkpoint(kept[-1].seq, kept[-1].hash)
    latest = next((c for c in reversed(witnessed.checkpoints) if c.seq <= good), None)
    payload = {
        "restored_from": str(location),
        "restored_head": str(head),
        "resumed_at_seq": head.seq,
        "checkpoints_verified": checked,
        "latest_checkpoint": str(latest.head) if latest else None,
        "signer": witnessed.signer,
        "complete": not problem,
    }
    if problem:
        payload["shorter"] = f"restored up to the last good event {good}: {problem}"
    try:
        writer.append(ev.JOURNAL_RECOVERED, payload, actor=Actor.here("system"))
    finally:
        writer.close()
    return Restored(
        journal,
        head,
        checked,
        latest,
        witnessed.signer,
        not problem,
        str(payload.get("shorter", "")),
        witnessed.notes + notes,
    )


def _read_segments(
    store: ObjectStore, spans: list[tuple[int, int, StoredObject]]
) -> tuple[list[StoredRow], str, int]:
    """The rows of the contiguous segments from event 1; a problem (a gap, an unreadable or
    altered segment) stops the reading and is named."""
    rows: list[StoredRow] = []
    expected = 1
    previous = ""
    chosen = []  # the segments that follow each other from event 1 (a retried one skipped)
    for first, last, obj in spans:
        if last < expected:
            continue
        chosen.append((first, last, obj))
        expected = max(expected, last + 1) if first <= expected else expected

    def read(span: tuple[int, int, StoredObject]) -> list[StoredRow] | Exception:
        try:
            return decode(span[2].name, store.read(span[2], MAX_SEGMENT_BYTES))
        except (SegmentProblem, ArchiveFault) as exc:
            return exc

    expected = 1
    for (first, last, obj), got in zip(chosen, parallel(read, chosen), strict=True):
        if first > expected:
            after = f" (after {previous})" if previous else ""
            return (
                rows,
                f"events {expected}-{first - 1} are missing: no segment holds them{after}",
                len(rows),
            )
        if first < expected:
            return (
                rows,
                f"{obj.name} overlaps {previous}: two segments hold event {first}",
                len(rows),
            )
        if isinstance(got, Exception):
            return rows, f"{got} (the segment was altered or damaged)", len(rows)
        rows.extend(got)
        expected, previous = last + 1, obj.name
    return rows, "", len(rows)


def _holding(spans: list[tuple[int, int, StoredObject]], seq: int) -> str:
    return next((o.name for first, last, o in spans if first <= seq <= last), f"event {seq}")


def _cutover_of(row: StoredRow) -> str | None:
    import json

    if row.kind != ev.JOURNAL_CREATED:
        raise RestoreRefused("the archive's first event is not the journal's creation")
    try:
        value = json.loads(row.payload_text).get("cutover")
    except (ValueError, AttributeError):
        return None
    return str(value) if isinstance(value, str) else None
