"""Replay: fold a 100,000-event journal (shipped plan, realistic mix) to current state.

Target (issue 2): <= 1 s. Also reports full chain verification of the same journal."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import build_journal, median_time

from cutover_console.journal import JournalReader
from cutover_console.runbook import load_state

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.sqlite"
        build_journal(path, N)

        def fold() -> None:
            with JournalReader(path) as reader:
                state = load_state(reader)
                assert state.count == N

        def verify() -> None:
            with JournalReader(path) as reader:
                assert reader.verify().ok

        fold_med, fold_all = median_time(fold)
        ver_med, ver_all = median_time(verify, runs=3)
    print(
        f"replay of {N} events: median {fold_med:.3f} s "
        f"(runs: {', '.join(f'{x:.3f}' for x in fold_all)})  target <= 1 s"
    )
    print(
        f"verify of {N} events: median {ver_med:.3f} s "
        f"(runs: {', '.join(f'{x:.3f}' for x in ver_all)})"
    )


if __name__ == "__main__":
    main()
