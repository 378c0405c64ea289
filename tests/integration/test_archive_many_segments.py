"""Issue 21, item 6: a directory copy of a witness prefix with 100,000 one-event segments
restores with bounded resources (the reads stream: at most a few dozen segments in flight, each
read sized by its file). Before, every result was held at once and each small read kept a
mapping of its own: 65,531 mappings, then `RuntimeError: can't start new thread` and a
45-line traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from segmentbed import many_event_journal, one_event_segments
from support import ROOT

from cutover_console.archive.objects import MAX_OBJECTS
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


def test_a_folder_past_the_documented_cap_is_refused_with_a_sentence(tmp_path: Path) -> None:
    """More than MAX_OBJECTS (250,000) files in a copy's folder: restore and verify --witness
    refuse with one sentence naming the cap, before reading any of them, and write nothing."""
    journal = tmp_path / "j.sqlite"
    many_event_journal(journal, 3)
    copy = one_event_segments(journal, tmp_path / "copy")
    segments = copy / "segments"
    fillers = MAX_OBJECTS - len(os.listdir(segments))
    for n in range(fillers):  # up to the cap: read, each one a note
        os.close(os.open(segments / f"filler-{n:06d}", os.O_WRONLY | os.O_CREAT, 0o644))
    target = tmp_path / "at-the-cap.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "cutover_console", "restore", str(copy), "--journal", str(target)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 21 and notes[-1].endswith(f"and {fillers - 20:,} more like these")
    os.close(os.open(segments / "one-too-many", os.O_WRONLY | os.O_CREAT, 0o644))
    target = tmp_path / "restored.sqlite"
    restore = ["restore", str(copy), "--journal", str(target)]
    verify = ["verify", str(journal), "--witness", str(copy)]
    for argv, folder in ((restore, "segments"), (verify, "checkpoints")):
        if folder == "checkpoints":  # verify reads the checkpoints first: those, too many
            (copy / "segments").rename(copy / "checkpoints")
        done = subprocess.run(
            [sys.executable, "-m", "cutover_console", *argv],
            capture_output=True, text=True, timeout=600, cwd=ROOT,
        )  # fmt: skip
        out = done.stdout + done.stderr
        assert done.returncode != 0, out[-2000:]
        assert f"holds more than {MAX_OBJECTS:,} files" in out, out[-2000:]
        assert "Traceback" not in out
        assert len(out.splitlines()) < 10, out[-2000:]
    assert not target.exists()
