"""Durable append: one event per fsync'd transaction, against a bare sqlite3 insert+commit with the
same pragmas (WAL, synchronous=FULL), measured side by side, interleaved, in one process.

Target (issue 2): median append <= 2x the bare insert."""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
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


def main() -> None:
    ratios, ours_med, bare_med = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ROUNDS):
            writer = JournalWriter.create(
                Path(tmp) / f"j{r}.sqlite",
                "x",
                "0" * 64,
                "p.yaml",
                Actor("lena", "bench"),
                cutover_id="bench",
            )
            conn = bare(Path(tmp) / f"b{r}.sqlite")
            actor = Actor("lena", "bench")
            t_ours, t_bare = [], []
            for i in range(N):  # interleave so both see the same disk conditions
                payload = {"text": f"note {i}", "step": "dns-switch"}
                start = time.perf_counter()
                writer.append("note.added", payload, actor=actor, step="dns-switch")
                t_ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "INSERT INTO events (ts, actor, kind, step, payload) VALUES (?,?,?,?,?)",
                    (
                        "2026-12-06T12:00:00.000000Z",
                        "lena",
                        "note.added",
                        "dns-switch",
                        json.dumps(payload),
                    ),
                )
                conn.execute("COMMIT")
                t_bare.append(time.perf_counter() - start)
            writer.close()
            conn.close()
            mo, mb = statistics.median(t_ours), statistics.median(t_bare)
            ours_med.append(mo)
            bare_med.append(mb)
            ratios.append(mo / mb)
    print(f"journal append (durable, 1 event/txn), {ROUNDS} rounds x {N} appends")
    print(f"  cutover append median: {statistics.median(ours_med) * 1e6:.0f} us")
    print(f"  bare sqlite3 median:   {statistics.median(bare_med) * 1e6:.0f} us")
    print(
        f"  ratio (median of per-round medians): {statistics.median(ratios):.2f}x  "
        f"(rounds: {', '.join(f'{x:.2f}' for x in ratios)})  target <= 2.00x"
    )


if __name__ == "__main__":
    main()
