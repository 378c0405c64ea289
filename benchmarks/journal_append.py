"""Durable append: one event per fsync'd transaction, against a bare sqlite3 insert+commit with the
same pragmas (WAL, synchronous=FULL), measured side by side, interleaved, in one process.

Target (issue 2, kept by issue 12): median append <= 2x the bare insert, with the WAL checkpoints
and the head record (`<journal>.head`) that issue 12 added. Four writers take turns per append:

  bare       sqlite3 insert+commit, nothing else
  note       JournalWriter.append of a note (checkpoint at most every CHECKPOINT_EVERY; the head
             record fdatasync'd while the event is in the WAL only)
  decision   JournalWriter.append of a decision kind: checkpointed after every commit
  before     a note with the post-commit work switched off (the writer as before issue 12)
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from cutover_console.journal import Actor, JournalWriter

N = int(sys.argv[1]) if len(sys.argv) > 1 else 400
ROUNDS = 5


def bare(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, ts TEXT, actor TEXT, kind TEXT, "
        "step TEXT, payload TEXT)"
    )
    return conn


def writer(path: Path) -> JournalWriter:
    return JournalWriter.create(
        path, "x", "0" * 64, "p.yaml", Actor("lena", "bench"), cutover_id="bench"
    )


def bare_insert(conn: sqlite3.Connection, payload: dict[str, str]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO events (ts, actor, kind, step, payload) VALUES (?,?,?,?,?)",
        ("2026-12-06T12:00:00.000000Z", "lena", "note.added", "dns-switch", json.dumps(payload)),
    )
    conn.execute("COMMIT")


def journal_append(w: JournalWriter, kind: str) -> Callable[[dict[str, str]], object]:
    actor = Actor("lena", "bench")
    return lambda payload: w.append(kind, payload, actor=actor, step="dns-switch")


def main() -> None:
    names = ("bare", "note", "decision", "before")
    medians: dict[str, list[float]] = {n: [] for n in names}
    means: dict[str, list[float]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ROUNDS):
            conn = bare(Path(tmp) / f"b{r}.sqlite")
            note, decision, before = (writer(Path(tmp) / f"{n}{r}.sqlite") for n in names[1:])
            before._after_commit = lambda _decision: None  # type: ignore[method-assign]
            runs: dict[str, Callable[[dict[str, str]], object]] = {
                "bare": partial(bare_insert, conn),
                "note": journal_append(note, "note.added"),
                "decision": journal_append(decision, "step.started"),
                "before": journal_append(before, "note.added"),
            }
            times: dict[str, list[float]] = {n: [] for n in names}
            for i in range(N):  # interleave so all see the same disk conditions
                payload = {"text": f"note {i}", "step": "dns-switch"}
                for name, run in runs.items():
                    start = time.perf_counter()
                    run(payload)
                    times[name].append(time.perf_counter() - start)
            for w in (note, decision, before):
                w.close()
            conn.close()
            for name in names:
                medians[name].append(statistics.median(times[name]))
                means[name].append(statistics.fmean(times[name]))
    print(f"journal append (durable, 1 event/txn), {ROUNDS} rounds x {N} appends, interleaved")
    for name in names:
        ratios = [m / b for m, b in zip(medians[name], medians["bare"], strict=True)]
        med, mean = statistics.median(medians[name]), statistics.median(means[name])
        print(
            f"  {name:<9} median {med * 1e6:5.0f} us  mean {mean * 1e6:5.0f} us  "
            f"ratio {statistics.median(ratios):.2f}x of bare "
            f"(rounds {', '.join(f'{x:.2f}' for x in ratios)})"
        )
    note = statistics.median(m / b for m, b in zip(medians["note"], medians["bare"], strict=True))
    print(f"  target: note append median <= 2.00x bare (median of per-round ratios): {note:.2f}x")


if __name__ == "__main__":
    main()
