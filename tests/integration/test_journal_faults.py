"""Journals under fault: damaged files and rows, a full disk, a damaged WAL, a writer killed right
after its commit. Every command answers with an exit status and a sentence naming the problem (and
the event, for a damaged row), never a traceback."""

from __future__ import annotations

import contextlib
import errno
import os
import pty
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import SMALL, in_ci, run_cli

from cutover_console.clock import ManualClock
from cutover_console.journal import Actor, JournalReader, JournalWriter, behind_recorded_head
from cutover_console.journal.lock import head_path
from cutover_console.journal.store import APPLICATION_ID
from cutover_console.plan import load_plan
from cutover_console.runbook import Cutover

READERS = ("status", "events", "report")


# -- the corpus ------------------------------------------------------------------------------


def _base(path: Path) -> None:
    """Seven events of the kinds the fold indexes: created, a start, notes, a gate evaluation, a
    flow state."""
    clock = ManualClock(datetime(2026, 12, 5, 13, 0, tzinfo=UTC))
    document = load_plan(SMALL)
    writer = JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor("lena", "test"),
        cutover_id="small-cutover",
        clock=clock,
    )
    cutover = Cutover(writer, clock)
    cutover.start("freeze", "omar")  # 2
    cutover.note("bridge open", "lena")  # 3
    cutover.record_gate("dns-switch", "authority-new", False, "old answers", {})  # 4
    writer.append(  # 5
        "flow.state", {"flow": "uploads", "side": "old", "status": "healthy"}, actor=Actor.here("x")
    )
    cutover.note("still fine", "lena")  # 6
    cutover.note("last", "lena")  # 7
    writer.close()


def _sql(*statements: str, loose: bool = False) -> Callable[[Path], None]:
    """Edit the rows as an attacker (or a bad disk) would: triggers dropped; `loose` rebuilds the
    table without its NOT NULL constraints first, so NULLs can be stored."""

    def damage(path: Path) -> None:
        conn = sqlite3.connect(path)
        conn.execute("DROP TRIGGER IF EXISTS events_no_update")
        conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
        if loose:
            conn.execute("CREATE TABLE loose AS SELECT * FROM events")
            conn.execute("DROP TABLE events")
            conn.execute("ALTER TABLE loose RENAME TO events")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()

    return damage


def _truncate(size: int) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with open(path, "r+b") as f:
            f.truncate(size)

    return damage


def _text_file(path: Path) -> None:
    path.write_text("seq,kind\n1,journal.created\n")


def _marked(*statements: str) -> Callable[[Path], None]:
    """A fresh SQLite file carrying our application_id, with other tables."""

    def damage(path: Path) -> None:
        path.unlink()
        head_path(path).unlink()
        conn = sqlite3.connect(path)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()

    return damage


# case -> (damage, what every reading command must name, the event verify names or None)
ROWS: dict[str, tuple[Callable[[Path], None], str, int | None]] = {
    "payload NULL": (
        _sql("UPDATE events SET payload = NULL WHERE seq = 3", loose=True),
        "event 3 (note.added) is damaged: its payload is missing",
        3,
    ),
    "payload garbage": (
        _sql("UPDATE events SET payload = '{not json' WHERE seq = 3"),
        "event 3 (note.added) is damaged: its payload is not JSON",
        3,
    ),
    "payload a list": (
        _sql("UPDATE events SET payload = '[1, 2]' WHERE seq = 3"),
        "event 3 (note.added) is damaged: its payload is not a JSON object",
        3,
    ),
    "payload a blob": (
        _sql("UPDATE events SET payload = x'00ff' WHERE seq = 3"),
        "event 3 (note.added) is damaged: its payload is not text",
        3,
    ),
    "created without plan": (
        _sql("""UPDATE events SET payload = '{"cutover":"x"}' WHERE seq = 1"""),
        "event 1 (journal.created) is damaged: its payload has no plan",
        1,
    ),
    "hash NULL": (
        _sql("UPDATE events SET hash = NULL WHERE seq = 3", loose=True),
        "event 3 (note.added) is damaged: its hash is missing",
        3,
    ),
    "hash garbage": (
        _sql("UPDATE events SET hash = 'zz-not-a-hash' WHERE seq = 3"),
        "event 3 (note.added) is damaged: its hash is not valid",
        3,
    ),
    "hash a number": (
        _sql("UPDATE events SET hash = 12345 WHERE seq = 3"),
        "event 3 (note.added) is damaged: its hash is not valid",
        3,
    ),
    "prev NULL": (
        _sql("UPDATE events SET prev = NULL WHERE seq = 3", loose=True),
        "event 3 (note.added) is damaged: its previous hash is missing",
        3,
    ),
    "ts garbage": (
        _sql("UPDATE events SET ts = 'yesterday' WHERE seq = 3"),
        "event 3 (note.added) is damaged: its timestamp is not valid",
        3,
    ),
    "ts impossible": (
        _sql("UPDATE events SET ts = '2026-13-45T25:00:00.000000Z' WHERE seq = 3"),
        "event 3 (note.added) is damaged: its timestamp is not valid",
        3,
    ),
    "kind NULL": (
        _sql("UPDATE events SET kind = NULL WHERE seq = 3", loose=True),
        "event 3 is damaged: its kind is missing",
        3,
    ),
    "version garbage": (
        _sql("UPDATE events SET v = 'abc' WHERE seq = 3"),
        "event 3 (note.added) is damaged: its payload version is not valid",
        3,
    ),
    "first event gone": (_sql("DELETE FROM events WHERE seq = 1"), "event 1 is missing", 1),
    "first event not created": (
        _sql("UPDATE events SET kind = 'note.added' WHERE seq = 1"),
        "the journal must start with journal.created",
        1,
    ),
    "no events at all": (_sql("DELETE FROM events"), "the journal holds no events", 1),
}
# A payload that is JSON but does not fit its kind (issue 20): every reading command shows the
# rest of the journal and names the event as malformed; `verify` names the broken chain.
MISFITS: dict[str, tuple[Callable[[Path], None], str, int]] = {
    "gate without gate": (
        _sql("""UPDATE events SET payload = '{"ok":true}' WHERE seq = 4"""),
        "event 4 (gate.evaluated) is malformed: its payload has no 'gate'",
        4,
    ),
    "flow without side": (
        _sql("""UPDATE events SET payload = '{"flow":"uploads"}' WHERE seq = 5"""),
        "event 5 (flow.state) is malformed: its payload has no 'side'",
        5,
    ),
    "overrides not a list": (
        _sql("""UPDATE events SET payload = '{"overrides":5}' WHERE seq = 2"""),
        "event 2 (step.started) is malformed: its 'overrides' is not a list",
        2,
    ),
}
FILES: dict[str, tuple[Callable[[Path], None], str]] = {
    "text file": (_text_file, "not a Cutover Console journal (SQLite: file is not a database)"),
    "truncated header": (_truncate(60), "not a Cutover Console journal"),
    "truncated body": (_truncate(4096), "the journal file is damaged (SQLite: database disk image"),
    "empty file": (_truncate(0), "not a Cutover Console journal"),
    "marked, no tables": (_marked(), "has no events table"),
    "marked, other table": (_marked("CREATE TABLE other (x)"), "has no events table"),
    "marked, wrong events": (
        _marked("CREATE TABLE events (seq INTEGER PRIMARY KEY, what TEXT)"),
        "its events table is not a journal's (no column ts, actor",
    ),
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("base") / "j.sqlite"
    _base(path)
    return path


def _copy(base: Path, to: Path) -> Path:
    to.mkdir(parents=True, exist_ok=True)
    shutil.copy(base, to / base.name)
    shutil.copy(head_path(base), head_path(to / base.name))
    return to / base.name


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def _command(name: str, path: Path) -> list[str]:
    return {
        "note": ["note", "after the damage", "-j", str(path), "--by", "lena"],
        "status": ["status", "-j", str(path)],
        "events": ["events", "-j", str(path)],
        "report": ["report", "-j", str(path), "-o", str(path.with_suffix(".md"))],
    }[name]


def run_watch(path: Path, timeout: float = 30) -> tuple[int, str]:
    """`cutover watch` on a pseudo-terminal (Textual wants one): its exit status and output."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real entry point, on the terminal
        os.execv(
            sys.executable, [sys.executable, "-m", "cutover_console", "watch", "-j", str(path)]
        )
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            ready, _, _ = select.select([fd], [], [], 0.1)
            chunk = b""
            if ready:
                with contextlib.suppress(OSError):  # EIO: the child closed the terminal
                    chunk = os.read(fd, 65536)
                out += chunk
            if done and not chunk:
                return os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace")
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError(f"cutover watch still running after {timeout}s: {out[-2000:]!r}")
    finally:
        os.close(fd)


@pytest.mark.parametrize("case", list(ROWS))
def test_damaged_rows_are_named_by_every_command(base: Path, tmp_path: Path, case: str) -> None:
    damage, sentence, bad_seq = ROWS[case]
    path = _copy(base, tmp_path)
    damage(path)
    for name in ("note", *READERS):
        result = run_cli(*_command(name, path))
        _no_traceback(result)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        if name == "note" and case == "no events at all":  # the writer's own check comes first
            assert "the journal is behind its recorded head" in result.stderr, result.stderr
            continue
        assert sentence in result.stderr, (name, result.stderr)
    verify = run_cli("verify", str(path))
    _no_traceback(verify)
    assert verify.returncode == 1 and f"FAILED at event {bad_seq}:" in verify.stderr, verify.stderr
    code, screen = run_watch(path)
    assert code == 2 and "Traceback" not in screen, screen
    assert sentence in " ".join(screen.split()), screen  # the terminal may wrap the line


@pytest.mark.parametrize("case", list(MISFITS))
def test_payloads_that_do_not_fit_are_named_malformed_and_the_rest_shown(
    base: Path, tmp_path: Path, case: str
) -> None:
    damage, sentence, bad_seq = MISFITS[case]
    path = _copy(base, tmp_path)
    damage(path)
    for name in ("note", *READERS):
        result = run_cli(*_command(name, path))
        _no_traceback(result)
        assert result.returncode == 0, (name, result.stdout, result.stderr)
    assert sentence in run_cli(*_command("status", path)).stdout
    assert sentence in path.with_suffix(".md").read_text().replace("\\_", "_")
    verify = run_cli("verify", str(path))
    assert verify.returncode == 1 and f"FAILED at event {bad_seq}:" in verify.stderr


@pytest.mark.parametrize("case", list(FILES))
def test_damaged_files_are_named_by_every_command(base: Path, tmp_path: Path, case: str) -> None:
    damage, sentence = FILES[case]
    path = _copy(base, tmp_path)
    damage(path)
    before = path.read_bytes()
    for name in ("note", *READERS):
        result = run_cli(*_command(name, path))
        _no_traceback(result)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert sentence in result.stderr, (name, result.stderr)
    assert path.read_bytes() == before  # a writer that refused did not touch the file
    verify = run_cli("verify", str(path))
    _no_traceback(verify)
    assert verify.returncode == 2 and sentence in verify.stderr, verify.stderr
    code, screen = run_watch(path)
    assert code == 2 and sentence in " ".join(screen.split()) and "Traceback" not in screen


def test_the_intact_base_passes_every_command(base: Path, tmp_path: Path) -> None:
    path = _copy(base, tmp_path)
    for name in ("note", *READERS):
        result = run_cli(*_command(name, path))
        assert result.returncode == 0, (name, result.stderr)
        assert "warning" not in result.stderr
    assert run_cli("verify", str(path)).returncode == 0


# -- item 9: the rehearsal lookup ignores what is not a rehearsal of this cutover ------------


def test_report_ignores_foreign_files_below_the_journal(base: Path, tmp_path: Path) -> None:
    live = _copy(base, tmp_path)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    (tmp_path / "notes.sqlite").write_text("not a database")
    (deep / "half.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 40)
    sqlite3.connect(deep / "other-app.sqlite").execute("CREATE TABLE t (x)").connection.close()
    _copy(base, tmp_path / "trunc")  # ours, then damaged
    _truncate(4096)(tmp_path / "trunc" / "j.sqlite")
    _copy(base, tmp_path / "rows")
    _sql("UPDATE events SET payload = '{not json' WHERE seq = 1")(tmp_path / "rows" / "j.sqlite")
    (tmp_path / "folder.sqlite").mkdir()
    locked = deep / "locked.sqlite"
    holder = sqlite3.connect(locked, isolation_level=None)
    holder.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    holder.execute("CREATE TABLE events (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        out = tmp_path / "r.md"
        result = run_cli("report", "-j", str(live), "-o", str(out))
        _no_traceback(result)
        assert result.returncode == 0, result.stderr
        assert "comparing with rehearsal" not in result.stdout
        assert time.monotonic() - started < 30  # a locked file is skipped, not waited for
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _rehearsal(path: Path, cutover_id: str = "small-cutover") -> None:
    document = load_plan(SMALL)
    JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor("lena", "t"),
        cutover_id=cutover_id,
        mode="rehearsal",
    ).close()


def test_rehearsal_lookup_is_bounded_and_same_cutover(base: Path, tmp_path: Path) -> None:
    from cutover_console.report.rehearsal import find_latest

    live = _copy(base, tmp_path)
    near = tmp_path / "demo" / "20261201" / "journal.sqlite"
    near.parent.mkdir(parents=True)
    _rehearsal(near)
    too_deep = tmp_path / "a" / "b" / "c" / "d" / "r.sqlite"
    too_deep.parent.mkdir(parents=True)
    _rehearsal(too_deep)
    other = tmp_path / "x" / "other.sqlite"
    other.parent.mkdir()
    _rehearsal(other, cutover_id="another-cutover")
    (tmp_path / "loop").symlink_to(tmp_path)  # a symlinked folder is never followed
    assert find_latest(live, "small-cutover") == near
    near.unlink()
    head_path(near).unlink()
    assert find_latest(live, "small-cutover") is None  # 4 folders down: out of reach


# -- item 10: a damaged WAL ------------------------------------------------------------------

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, isolation_level=None)
if sys.argv[2] == "snapshot":  # a long read: no checkpoint may copy past it
    conn.execute("BEGIN")
conn.execute("SELECT count(*) FROM events").fetchone()
print("ready", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def other_reader(path: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    """Another process with the journal open (as a watcher has), so that a writer's close is not
    the last one and SQLite leaves the WAL in place. Killed with -9: it checkpoints nothing."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def damage_wal(path: Path) -> None:
    """Flip bytes inside the WAL's first frame: its checksum fails, and SQLite's recovery drops
    that frame and every later one without a word."""
    wal = path.with_name(path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 32 + 24 + 200
    with open(wal, "r+b") as f:
        f.seek(32 + 24 + 100)
        f.write(b"\xde\xad\xbe\xef" * 8)


def _init(path: Path) -> None:
    assert run_cli("init", str(SMALL), "--journal", str(path)).returncode == 0


def test_checkpointing_keeps_notes_through_a_damaged_wal(tmp_path: Path) -> None:
    """The issue's case: six notes, each by its own `cutover note`, while another process holds
    the journal open. Each writer checkpoints before it exits, so the WAL holds nothing the main
    file lacks, and damaging it loses nothing."""
    path = tmp_path / "j.sqlite"
    _init(path)
    with other_reader(path, "idle"):
        for i in range(6):
            assert run_cli("note", f"note {i}", "-j", str(path), "--by", "lena").returncode == 0
    damage_wal(path)
    verify = run_cli("verify", str(path))
    assert verify.returncode == 0 and "OK: 7 events" in verify.stdout, verify.stdout
    assert behind_recorded_head(path) is None


def test_events_lost_with_the_wal_are_reported_behind_the_recorded_head(tmp_path: Path) -> None:
    """A reader's long snapshot keeps checkpoints from copying the notes into the main file; the
    WAL is then damaged. SQLite drops the six notes silently; the head each writer recorded beside
    the journal says they existed."""
    path = tmp_path / "j.sqlite"
    _init(path)
    with other_reader(path, "snapshot"):
        for i in range(6):
            assert run_cli("note", f"note {i}", "-j", str(path), "--by", "lena").returncode == 0
    damage_wal(path)
    with JournalReader(path) as reader:
        assert reader.count() == 1  # the loss itself: SQLite says nothing
        assert reader.verify().ok
    status = run_cli("status", "-j", str(path))
    assert status.returncode == 0
    assert "the journal is behind its recorded head" in status.stderr, status.stderr
    assert "6 committed event(s) are missing" in status.stderr
    verify = run_cli("verify", str(path))
    assert verify.returncode == 1, verify.stdout
    assert "FAILED at event 2: behind: " in verify.stderr and "recorded head" in verify.stderr
    as_json = run_cli("verify", str(path), "--json")
    assert as_json.returncode == 1 and '"ok": false' in as_json.stdout
    note = run_cli("note", "more", "-j", str(path), "--by", "lena")
    assert note.returncode == 2 and "Not writing to it" in note.stderr, note.stderr
    _no_traceback(note)
    with JournalReader(path) as reader:
        assert reader.count() == 1  # nothing was written over the lost numbers
    head_path(path).unlink()  # the documented way to accept the loss
    assert run_cli("note", "more", "-j", str(path), "--by", "lena").returncode == 0


# -- item 11: a writer killed right after its commit, and the retry --------------------------

KILLED_AFTER_COMMIT = """
import os, signal, sys
from cutover_console.journal import store

def die(self, decision):  # COMMIT returned; the process dies before anything else happens
    os.kill(os.getpid(), signal.SIGKILL)

store.JournalWriter._after_commit = die
from cutover_console.cli import main
main(sys.argv[1:])
"""


def _killed(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", KILLED_AFTER_COMMIT, *args], capture_output=True, text=True
    )
    assert result.returncode == -signal.SIGKILL, result.stderr


def _with_key(path: Path, key: str) -> list[dict[str, object]]:
    import json

    lines = run_cli("events", "-j", str(path), "--jsonl").stdout.splitlines()
    return [e for e in map(json.loads, lines) if e["idem"] == key]


@pytest.mark.parametrize(
    ("setup", "command", "kind"),
    [
        ([], ["step", "start", "freeze", "--by", "omar"], "step.started"),
        (
            [["step", "start", "freeze", "--by", "omar"]],
            ["step", "done", "freeze", "--by", "omar"],
            "step.completed",
        ),
        (
            [
                ["step", "start", "freeze", "--by", "omar"],
                ["step", "done", "freeze", "--by", "omar"],
                ["step", "start", "backup", "--by", "dmitri"],
            ],
            ["signoff", "backup", "--by", "ravi"],
            "step.signed_off",
        ),
        ([], ["note", "bridge open", "--by", "lena"], "note.added"),
    ],
)
def test_retry_after_kill_9_right_after_commit_is_answered_with_the_original(
    tmp_path: Path, setup: list[list[str]], command: list[str], kind: str
) -> None:
    path = tmp_path / "j.sqlite"
    _init(path)
    for args in setup:
        assert run_cli(*args, "-j", str(path)).returncode == 0
    key = ["--idempotency-key", "retry-1"]
    _killed(*command, "-j", str(path), *key)
    recorded = _with_key(path, "retry-1")
    assert [e["kind"] for e in recorded] == [kind]  # committed before the kill
    retry = run_cli(*command, "-j", str(path), *key)
    _no_traceback(retry)
    assert retry.returncode == 0, retry.stderr
    assert f"already recorded as event {recorded[0]['seq']}" in retry.stdout, retry.stdout
    assert _with_key(path, "retry-1") == recorded  # exactly one event holds the key
    assert run_cli("verify", str(path)).returncode == 0
    # the same key for another command is refused, naming the event that holds it
    other = run_cli("note", "something else", "-j", str(path), "--by", "nia", *key)
    assert other.returncode == 1, other.stderr
    assert f"already holds event {recorded[0]['seq']}" in other.stderr
    assert _with_key(path, "retry-1") == recorded


# -- item 7: a full disk ---------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of our own. CI runs as root: there, not being able to mount is a failure."""
    where = tmp_path / "disk"
    where.mkdir()
    mount = shutil.which("mount")
    result = (
        subprocess.run(
            [mount, "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(where)],
            capture_output=True,
            text=True,
        )
        if mount
        else None
    )
    if result is None or result.returncode != 0:
        reason = (result.stderr.strip() if result else "") or "no mount command"
        if in_ci():
            pytest.fail(f"cannot mount a tmpfs for the full-disk test under CI: {reason}")
        pytest.skip(f"cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): {reason}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(folder: Path) -> Path:
    """Fill the file system to the last block."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


def test_full_disk_refuses_cleanly_and_loses_nothing(small_disk: Path) -> None:
    path = small_disk / "j.sqlite"
    _init(path)
    filler = _fill(small_disk)
    full = "the disk holding " + str(path) + " is full: nothing was recorded; free space and retry"
    second = small_disk / "second.sqlite"
    init = run_cli("init", str(SMALL), "--journal", str(second))
    _no_traceback(init)
    assert init.returncode == 2 and "is full: nothing was recorded" in init.stderr, init.stderr
    assert not second.exists()  # no half-made journal to block the retry
    first = run_cli("note", "no room at all", "-j", str(path), "--by", "lena")  # the lock file
    _no_traceback(first)
    assert first.returncode == 2 and full in first.stderr, first.stderr
    acknowledged: list[str] = []
    refused = 0
    for i in range(40):
        if i % 4 == 0:  # free a little now and then: some notes fit, some do not
            os.truncate(filler, max(0, filler.stat().st_size - 6 * 1024))
        text = f"note {i}"
        result = run_cli("note", text, "-j", str(path), "--by", "lena")
        _no_traceback(result)
        if result.returncode == 0:
            acknowledged.append(text)
        else:
            assert result.returncode == 2 and full in result.stderr, result.stderr
            assert "cannot rollback" not in result.stderr
            refused += 1
    status = run_cli("status", "-j", str(path))  # reading needs no space
    _no_traceback(status)
    assert refused > 0 and acknowledged, (refused, acknowledged)
    filler.unlink()
    assert run_cli("note", "space is back", "-j", str(path), "--by", "lena").returncode == 0
    assert run_cli("init", str(SMALL), "--journal", str(second)).returncode == 0
    verify = run_cli("verify", str(path))
    assert verify.returncode == 0, verify.stderr
    import json

    lines = run_cli("events", "-j", str(path), "--jsonl").stdout.splitlines()
    texts = [json.loads(x)["payload"].get("text") for x in lines]
    assert texts.count("space is back") == 1
    assert [t for t in texts if t in acknowledged] == acknowledged  # all kept, in order, once


def test_full_disk_error_mapping_without_a_mount(tmp_path: Path) -> None:
    """What the CLI says for ENOSPC wherever it comes from, when no tmpfs can be had."""
    from cutover_console.journal.store import _failure

    path = tmp_path / "j.sqlite"
    message = str(_failure(path, OSError(errno.ENOSPC, "No space left on device"), writing=True))
    assert message == f"the disk holding {path} is full: nothing was recorded; free space and retry"
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = 13  # type: ignore[attr-defined]
    assert "is full: nothing was recorded" in str(_failure(path, full, writing=True))
