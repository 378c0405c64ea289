"""A witness prefix in the directory form with one event per segment (issue 21: 100,000 tiny
segments), written straight from a journal: what `aws s3 cp --recursive` of a prefix whose
publisher flushed after every event would give (no checkpoints: restore needs none)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cutover_console.archive.segments import segment_name
from cutover_console.journal import Actor, JournalReader, JournalWriter
from cutover_console.journal.chain import body_from_text, jsonl_line
from cutover_console.plan import load_plan

HERE = Path(__file__).resolve().parent
SMALL = HERE / "plans" / "small.yaml"


def many_event_journal(path: Path, events: int) -> None:
    """`events` notes on the small plan, written in batches (the fixture, not what is measured)."""
    document = load_plan(SMALL)
    writer = JournalWriter.create(
        path, document.text, document.sha256, "small.yaml", Actor("lena", "bench"),
        cutover_id=document.plan.cutover.id,
    )  # fmt: skip
    writer.conn.execute("PRAGMA synchronous = OFF")
    batch: list[tuple[str, dict[str, Any], Actor, str | None]] = []
    for n in range(2, events + 1):
        batch.append(("note.added", {"text": f"note {n}"}, Actor("lena", "bench"), None))
        if len(batch) == 5000:
            writer.append_many(batch)
            batch = []
    if batch:
        writer.append_many(batch)
    writer.close()


def one_event_segments(journal: Path, into: Path) -> Path:
    """`into`/segments/ with a segment per event of `journal`."""
    folder = into / "segments"
    folder.mkdir(parents=True)
    with JournalReader(journal) as reader:
        for row in reader.raw_rows():
            body = body_from_text(
                row.seq, row.ts, row.actor, row.os_user, row.kind, row.step, row.payload_text,
                row.v, row.idem, row.prev,
            )  # fmt: skip
            name = segment_name(row.seq, row.seq)
            fd = os.open(into / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, (jsonl_line(body, row.hash) + "\n").encode())
            os.close(fd)
    return into
