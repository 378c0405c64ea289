"""Restore of a directory copy of a witness prefix with 100,000 one-event segments (issue 21):
wall time, CPU seconds, peak RSS and memory mappings of the `cutover restore` process, against
a baseline in the same run: the same 100,000 events in 10 segments of 10,000. Target: <= 60 s
and <= 500 MB. Medians of RUNS, interleaved."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from segmentbed import many_event_journal, one_event_segments

from cutover_console.archive.segments import encode, segment_name
from cutover_console.journal import JournalReader

EVENTS = 100_000
RUNS = 3
MEASURED = """
import atexit, resource, runpy, sys
def peak():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    maps = sum(1 for _ in open("/proc/self/maps"))
    print(f"PEAK {usage.ru_maxrss} CPU {usage.ru_utime + usage.ru_stime} MAPS {maps}",
          file=sys.stderr)
atexit.register(peak)
sys.argv = ["cutover", *sys.argv[1:]]
runpy.run_module("cutover_console", run_name="__main__")
"""


def ten_segments(journal: Path, into: Path) -> Path:
    folder = into / "segments"
    folder.mkdir(parents=True)
    with JournalReader(journal) as reader:
        events = list(reader.events())
    for start in range(0, len(events), 10_000):
        chunk = events[start : start + 10_000]
        (into / segment_name(chunk[0].seq, chunk[-1].seq)).write_bytes(encode(chunk))
    return into


def restore_once(copy: Path, target: Path) -> tuple[float, float, float, int]:
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, "restore", str(copy), "--journal", str(target)],
        capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    fields = done.stderr.rsplit("PEAK ", 1)[1].split()
    return wall, float(fields[2]), int(fields[0]) / 1024, int(fields[4])


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        journal = tmp / "j.sqlite"
        t0 = time.perf_counter()
        many_event_journal(journal, EVENTS)
        tiny = one_event_segments(journal, tmp / "tiny")
        big = ten_segments(journal, tmp / "big")
        print(f"built in {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()}")
        results: dict[str, list[tuple[float, float, float, int]]] = {"tiny": [], "big": []}
        for run in range(RUNS):
            for label, copy in (("tiny", tiny), ("big", big)):
                results[label].append(restore_once(copy, tmp / f"r-{label}-{run}.sqlite"))
        for label, what in (("tiny", "100,000 one-event segments"), ("big", "10 segments")):
            rows = results[label]
            print(
                f"{what}: wall median {statistics.median(r[0] for r in rows):.1f} s "
                f"(runs {', '.join(f'{r[0]:.1f}' for r in rows)}), CPU median "
                f"{statistics.median(r[1] for r in rows):.1f} s, peak RSS max "
                f"{max(r[2] for r in rows):.0f} MB, mappings max {max(r[3] for r in rows)}"
            )
        ratio = statistics.median(r[1] for r in results["tiny"]) / statistics.median(
            r[1] for r in results["big"]
        )
        print(f"CPU ratio tiny/big: {ratio:.1f}; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
