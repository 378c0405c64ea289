"""The journal is append-only and tamper-evident: an attacker who drops the triggers and edits the
file directly is caught, and the verifier names what was done to which event."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from support import run_cli

from cutover_console.journal import Actor, Checkpoint, JournalReader, JournalWriter
from cutover_console.journal.chain import body_hash, event_body
from cutover_console.journal.store import APPLICATION_ID


@pytest.fixture
def journal(tmp_path: Path) -> tuple[Path, Checkpoint]:
    path = tmp_path / "j.sqlite"
    writer = JournalWriter.create(
        path, "plan: text", "0" * 64, "p.yaml", Actor("lena", "root"), cutover_id="t"
    )
    for i in range(2, 11):
        writer.append("note.added", {"text": f"note {i}"}, actor=Actor("lena", "root"), step=None)
    head = writer.head()
    writer.close()
    assert head is not None and head.seq == 10
    return path, head


def attack(path: Path, *statements: str, params: tuple[object, ...] = ()) -> None:
    """What an attacker with file access does: drop the guards, then edit."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS events_no_update")
    conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
    for statement in statements:
        conn.execute(statement, params if "?" in statement else ())
    conn.commit()
    conn.close()


def rehash(path: Path, seq: int) -> None:
    """Recompute one row's own hash after editing it (a careful attacker)."""
    conn = sqlite3.connect(path)
    row = conn.execute(
        "SELECT seq, ts, actor, os_user, kind, step, payload, v, idem, prev "
        "FROM events WHERE seq = ?",
        (seq,),
    ).fetchone()
    digest = body_hash(
        event_body(
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            json.loads(row[6]),
            row[7],
            row[8],
            row[9],
        )
    )
    conn.execute("UPDATE events SET hash = ? WHERE seq = ?", (digest, seq))
    conn.commit()
    conn.close()


def verify(path: Path, expect: Checkpoint | None = None):  # type: ignore[no-untyped-def]
    with JournalReader(path) as reader:
        return reader.verify(expect)


def test_intact_journal_verifies(journal: tuple[Path, Checkpoint]) -> None:
    path, head = journal
    report = verify(path, head)
    assert report.ok and report.count == 10 and report.head == head


def test_triggers_refuse_update_and_delete(journal: tuple[Path, Checkpoint]) -> None:
    path, _ = journal
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE events SET actor = 'mallory' WHERE seq = 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM events WHERE seq = 10")
    conn.close()


def test_edit_is_named_changed(journal: tuple[Path, Checkpoint]) -> None:
    path, _ = journal
    attack(path, "UPDATE events SET actor = 'mallory' WHERE seq = 4")
    report = verify(path)
    assert not report.ok and report.bad_seq == 4 and report.problem.startswith("changed")


def test_edit_of_payload_formatting_is_caught(journal: tuple[Path, Checkpoint]) -> None:
    path, _ = journal
    attack(path, """UPDATE events SET payload = '{"text": "note 5"}' WHERE seq = 5""")
    report = verify(path)
    assert report.bad_seq == 5 and report.problem.startswith("changed")


def test_edit_and_rehash_is_caught_at_the_next_link(journal: tuple[Path, Checkpoint]) -> None:
    path, _ = journal
    attack(path, 'UPDATE events SET payload = \'{"text":"forged"}\' WHERE seq = 6')
    rehash(path, 6)
    report = verify(path)
    assert report.bad_seq == 6 and report.problem.startswith("changed")
    assert "re-hashed" in report.problem


def test_delete_is_named_missing(journal: tuple[Path, Checkpoint]) -> None:
    path, _ = journal
    attack(path, "DELETE FROM events WHERE seq IN (5, 6)")
    report = verify(path)
    assert report.bad_seq == 5 and report.problem.startswith("missing")
    assert "5-6" in report.problem


def test_insert_is_named_inserted(journal: tuple[Path, Checkpoint]) -> None:
    path, _ = journal
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DROP TRIGGER events_no_delete")
    rows = conn.execute(
        "SELECT seq, ts, actor, os_user, kind, step, payload, v, idem, prev, hash "
        "FROM events ORDER BY seq"
    ).fetchall()
    conn.execute("DELETE FROM events")
    prev_hash = rows[2][10]  # event 3
    forged_body = event_body(
        4, rows[3][1], "mallory", "root", "note.added", None, {"text": "forged"}, 1, None, prev_hash
    )
    forged = (
        4,
        rows[3][1],
        "mallory",
        "root",
        "note.added",
        None,
        '{"text":"forged"}',
        1,
        None,
        prev_hash,
        body_hash(forged_body),
    )
    renumbered = []
    for row in rows[3:]:  # shift the rest by one and re-hash each so every row is self-consistent
        seq = row[0] + 1
        digest = body_hash(
            event_body(
                seq,
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                json.loads(row[6]),
                row[7],
                row[8],
                row[9],
            )
        )
        renumbered.append((seq, *row[1:10], digest))
    for row in [*rows[:3], forged, *renumbered]:
        conn.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
    conn.commit()
    conn.close()
    report = verify(path)
    assert report.bad_seq == 4 and report.problem.startswith("inserted"), report.problem


def test_swapped_rows_are_named_reordered(journal: tuple[Path, Checkpoint]) -> None:
    path, _ = journal
    attack(
        path,
        "UPDATE events SET seq = 1000 WHERE seq = 7",
        "UPDATE events SET seq = 7 WHERE seq = 8",
        "UPDATE events SET seq = 8 WHERE seq = 1000",
    )
    report = verify(path)
    assert report.bad_seq == 7 and report.problem.startswith("reordered"), report.problem


def test_truncated_tail_needs_a_checkpoint(journal: tuple[Path, Checkpoint]) -> None:
    path, head = journal
    attack(path, "DELETE FROM events WHERE seq > 8")
    assert verify(path).ok  # a cut-off tail looks like a shorter journal...
    report = verify(path, head)  # ...until it is held against what someone wrote down
    assert not report.ok and report.problem.startswith("truncated") and report.bad_seq == 9


def test_rewritten_history_against_checkpoint(journal: tuple[Path, Checkpoint]) -> None:
    path, head = journal
    attack(path, 'UPDATE events SET payload = \'{"text":"rewritten"}\' WHERE seq = 10')
    rehash(path, 10)  # the last event: no later link reveals it
    assert verify(path).ok
    report = verify(path, head)
    assert report.problem.startswith("rewritten") and report.bad_seq == 10


def test_forged_head_is_refused(journal: tuple[Path, Checkpoint]) -> None:
    path, head = journal
    forged = Checkpoint(head.seq, "f" * 64)
    report = verify(path, forged)
    assert not report.ok and report.problem.startswith("rewritten")


def test_genesis_is_checked(journal: tuple[Path, Checkpoint]) -> None:
    path, _ = journal
    attack(path, "UPDATE events SET prev = ? WHERE seq = 1", params=("a" * 64,))
    rehash(path, 1)
    report = verify(path)
    assert not report.ok and report.bad_seq in (1,)


def test_writer_refuses_to_extend_a_broken_tail(journal: tuple[Path, Checkpoint]) -> None:
    path, _ = journal
    attack(path, "UPDATE events SET actor = 'mallory' WHERE seq = 10")
    with pytest.raises(Exception, match="does not match the chain"):
        JournalWriter.open(path)


def test_not_a_journal(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE x(y)").connection.close()
    result = run_cli("verify", str(other))
    assert result.returncode == 2 and "not a Cutover Console journal" in result.stderr
    conn = sqlite3.connect(other)
    assert conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID


def test_cli_verify_exit_codes_and_messages(journal: tuple[Path, Checkpoint]) -> None:
    path, head = journal
    ok = run_cli("verify", str(path), "--expect-head", str(head))
    assert ok.returncode == 0 and "matches the checkpoint" in ok.stdout
    attack(path, "DELETE FROM events WHERE seq = 3")
    bad = run_cli("verify", str(path))
    assert bad.returncode == 1 and "FAILED at event 3: missing" in bad.stderr
    malformed = run_cli("verify", str(path), "--expect-head", "10:nothex")
    assert malformed.returncode == 2 and "SEQ:HASH" in malformed.stderr


def test_spliced_body_equals_the_canonical_body() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from cutover_console.journal.chain import body_from_text, canonical_json

    text = st.text(max_size=20)

    @given(
        st.integers(1, 10**9),
        text,
        text,
        text,
        text,
        st.none() | text,
        st.dictionaries(text, st.none() | st.integers() | text | st.booleans(), max_size=4),
        st.integers(1, 9),
        st.none() | text,
    )
    def check(seq, ts, actor, os_user, kind, step, payload, v, idem):  # type: ignore[no-untyped-def]
        assert body_from_text(
            seq, ts, actor, os_user, kind, step, canonical_json(payload), v, idem, "0" * 64
        ) == event_body(seq, ts, actor, os_user, kind, step, payload, v, idem, "0" * 64)

    check()


def test_a_journal_older_than_log_lines_gets_the_table_when_opened_to_write(
    journal: tuple[Path, Checkpoint],
) -> None:
    """`open` adds the log table to a journal made before it existed, and (a `cutover note`
    with no service opens the journal this way) checks for it without importing sqlite_utils,
    50 ms of every such command otherwise."""
    import subprocess
    import sys

    path, _head = journal
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE log_lines")
    conn.commit()
    conn.close()
    writer = JournalWriter.open(path)
    writer.append_log_lines([("2026-12-07T10:00:00+00:00", "dns", "new", "info", "hello")])
    writer.close()
    assert [line[-1] for line in JournalReader(path).log_lines()] == ["hello"]
    probe = (
        "import sys; from cutover_console.journal import JournalWriter as W; "
        f"W.open({str(path)!r}).close(); print('sqlite_utils' in sys.modules)"
    )
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert shown.stdout.strip() == "False", shown.stderr
