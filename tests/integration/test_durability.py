"""Crash safety and the single-writer rule, with real processes and real kill -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import SMALL, run_cli

from cutover_console.journal import Actor, JournalLocked, JournalReader, JournalWriter
from cutover_console.journal.lock import read_holder
from cutover_console.plan import load_plan
from cutover_console.runbook import load_state

WRITER = Path(__file__).with_name("burst_writer.py")


def new_journal(path: Path) -> None:
    document = load_plan(SMALL)
    JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor("lena", "test"),
        cutover_id="small-cutover",
    ).close()


def start_writer(path: Path, count: int, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(count), *extra],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_kill_9_mid_burst_loses_no_committed_event(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    new_journal(path)
    rng = random.Random(1234)
    recoveries = 0
    for _round in range(12):
        proc = start_writer(path, 100_000)
        assert proc.stdout is not None
        committed: list[int] = []
        deadline = time.monotonic() + rng.uniform(0.05, 0.4)
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.strip().isdigit():
                committed.append(int(line))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # whatever was printed after COMMIT returned must be on disk
        with JournalReader(path) as reader:
            report = reader.verify()
            assert report.ok, report.problem
            assert report.head is not None
            assert not committed or report.head.seq >= committed[-1]
            seqs = {e.seq for e in reader.events(after=committed[0] - 1)} if committed else set()
            assert set(committed) <= seqs
        recoveries += 1
        # resume: the next writer journals the recovery and extends the intact chain
        writer = JournalWriter.open(path)
        last = list(writer.events(after=writer.head().seq - 1))[-1]  # type: ignore[union-attr]
        assert last.kind == "journal.recovered"
        assert last.payload["previous_writer"]["command"] == "burst_writer"
        writer.close()
    state = load_state(JournalReader(path))
    assert len(state.recoveries) == recoveries
    assert run_cli("verify", str(path)).returncode == 0


def test_second_writer_is_refused_with_the_holders_name(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    new_journal(path)
    proc = start_writer(path, 1, "hold")
    assert proc.stdout is not None
    proc.stdout.readline()
    try:
        with pytest.raises(JournalLocked) as exc:
            JournalWriter.open(path)
        assert exc.value.holder["pid"] == proc.pid
        assert "burst_writer" in str(exc.value)
        holder = read_holder(path)
        assert holder is not None and holder["pid"] == proc.pid
        result = run_cli("note", "hello", "--journal", str(path), "--by", "lena")
        assert result.returncode == 3
        assert f"pid {proc.pid}" in result.stderr and "Traceback" not in result.stderr
        # readers still work while the writer holds the lock
        assert run_cli("status", "--journal", str(path)).returncode == 0
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
    assert read_holder(path) is None
    JournalWriter.open(path).close()  # released cleanly: a new writer gets it, no recovery
    assert load_state(JournalReader(path)).recoveries == []


def test_readers_see_a_consistent_prefix_during_writes(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    new_journal(path)
    proc = start_writer(path, 1500)
    seen: list[int] = []
    errors: list[str] = []

    def read_loop() -> None:
        while proc.poll() is None:
            with JournalReader(path) as reader:
                report = reader.verify()
                if not report.ok:
                    errors.append(str(report.problem))
                seen.append(report.count)

    reader_thread = threading.Thread(target=read_loop)
    reader_thread.start()
    proc.communicate(timeout=120)
    reader_thread.join()
    assert errors == []
    assert len(seen) >= 2 and seen == sorted(seen)  # counts only grow
    with JournalReader(path) as reader:
        assert reader.count() == 1501


def test_reader_has_no_write_path(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    new_journal(path)
    reader = JournalReader(path)
    with pytest.raises(Exception, match=r"readonly|read-only|query_only"):
        reader.conn.execute("INSERT INTO events (seq) VALUES (99)")
    reader.close()
