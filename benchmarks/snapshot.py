"""Fold snapshots (issue 14): a view's start on a long journal, from scratch vs from the snapshot
beside it, side by side on the same journals.

Target: fold of 100k events <= 0.5 s, or start time independent of journal length thanks to the
snapshot. Measured at 10k and 100k events (the shipped plan, the realistic mix of replay.py), with
the snapshot at the head and 1,000 events behind it; median of 5 each. Also the snapshot's size
and the time to write it."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from _common import build_journal, median_time

from cutover_console.journal import Actor, JournalReader, JournalWriter
from cutover_console.runbook import load_state
from cutover_console.runbook.snapshot import load_snapshot, resume_state, save_snapshot

SIZES = [int(x) for x in sys.argv[1:]] or [10_000, 100_000]
BEHIND = 1_000


def measure(path: Path, n: int) -> tuple[float, list[float], float, float, list[float]]:
    def full() -> None:
        with JournalReader(path) as reader:
            assert load_state(reader).count == n

    def behind() -> None:
        with JournalReader(path) as reader:
            assert resume_state(reader).count == n

    def at_head() -> None:
        with JournalReader(path) as reader:
            assert load_snapshot(reader).count == n - BEHIND

    full_med, full_all = median_time(full)
    behind_med, _ = median_time(behind)
    head_med, head_all = median_time(at_head)
    return full_med, full_all, behind_med, head_med, head_all


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            path = Path(tmp) / f"j{n}.sqlite"
            build_journal(path, n - BEHIND)
            with JournalReader(path) as reader:
                state = load_state(reader)
                start = time.perf_counter()
                saved = save_snapshot(reader, state)
                wrote = time.perf_counter() - start
            assert saved is not None
            writer = JournalWriter.open(path)
            writer.conn.execute("PRAGMA synchronous = OFF")
            for i in range(BEHIND):  # the lead went on after the snapshot was written
                writer.append("note.added", {"text": f"later {i}"}, actor=Actor("dana", "b"))
            writer.close()

            full_med, full_all, behind_med, head_med, head_all = measure(path, n)
            print(
                f"{n:>7} events: full fold {full_med:.3f} s "
                f"({', '.join(f'{x:.3f}' for x in full_all)}); "
                f"snapshot at head {head_med:.3f} s ({', '.join(f'{x:.3f}' for x in head_all)}); "
                f"snapshot {BEHIND} behind + catch-up {behind_med:.3f} s; "
                f"ratio full/snapshot {full_med / head_med:.1f}x; "
                f"snapshot {saved.stat().st_size / 1e6:.1f} MB written in {wrote:.3f} s"
            )


if __name__ == "__main__":
    main()
