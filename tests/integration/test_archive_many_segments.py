"""Issue 21, item 6: a directory copy of a witness prefix with 100,000 one-event segments
restores with bounded resources (the reads stream: at most a few dozen segments in flight, each
read sized by its file). Before, every result was held at once and each small read kept a
mapping of its own: 65,531 mappings, then `RuntimeError: can't start new thread` and a
45-line traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from segmentbed import many_event_journal, one_event_segments

from cutover_console.journal import JournalReader

pytestmark = pytest.mark.integration

EVENTS = 100_000
# the restore under a wrapper that prints its own peak RSS (kB) and memory mappings at exit
MEASURED = """
import atexit, resource, runpy, sys
def peak():
    maps = sum(1 for _ in open("/proc/self/maps"))
    print(f"PEAK {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} MAPS {maps}", file=sys.stderr)
atexit.register(peak)
sys.argv = ["cutover", *sys.argv[1:]]
runpy.run_module("cutover_console", run_name="__main__")
"""


def test_a_hundred_thousand_one_event_segments_restore_with_bounded_resources(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "j.sqlite"
    many_event_journal(journal, EVENTS)
    copy = one_event_segments(journal, tmp_path / "copy")
    target = tmp_path / "restored.sqlite"
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, "restore", str(copy), "--journal", str(target)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert f"{EVENTS} events from {copy}, chain intact" in done.stdout
    peak_kb, maps = (int(x) for x in done.stderr.split("PEAK ")[1].split(" MAPS "))
    assert peak_kb < 500 * 1024, peak_kb
    assert maps < 2000, maps
    with JournalReader(target) as reader:
        head = reader.head()
    assert head is not None and head.seq == EVENTS + 1  # and the recovery event
