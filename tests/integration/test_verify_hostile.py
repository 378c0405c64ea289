"""`cutover verify` against bundles and journals made by someone who wants them to pass: outsiders
who edit files, add files beside the journal or sign with their own key, and insiders who hold
the export key and rewrite, cut or extend history, then re-sign. Each case states the exit code
and the problem the verifier must name; none may end in a traceback, run long or use much memory.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from support import SHIPPED, require_binary, run_cli

from cutover_console.journal.chain import (
    GENESIS,
    StoredRow,
    body_from_text,
    body_hash,
    canonical_json,
    verify_rows,
)
from cutover_console.report.bundle import FILES, SIGNED, export, sha256_file

COLUMNS = ("seq", "ts", "actor", "os_user", "kind", "step", "payload", "v", "idem", "prev", "hash")


@dataclass
class Base:
    journal: Path
    bundle: Path
    key: asyncssh.SSHKey
    stranger: asyncssh.SSHKey
    fingerprint: str
    head: str  # the checkpoint the client wrote down: the untouched bundle's


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """The shipped runbook walked through (tabletop: 139 events), exported once."""
    root = tmp_path_factory.mktemp("hostile")
    journal = root / "j.sqlite"
    assert run_cli("tabletop", str(SHIPPED), "--journal", str(journal), "-q").returncode == 0
    key = asyncssh.generate_private_key("ssh-ed25519", comment="export key")
    head = export(journal, root / "bundle", key)
    stranger = asyncssh.generate_private_key("ssh-ed25519", comment="mallory")
    return Base(journal, root / "bundle", key, stranger, key.get_fingerprint(), str(head))


def verify(path: Path, *args: str) -> tuple[int, str]:
    result = run_cli("verify", str(path), *args)
    return result.returncode, result.stdout + result.stderr


# --- what an attacker does to a bundle --------------------------------------------------------


def resign(
    bundle: Path, key: asyncssh.SSHKey, *, namespace: str = "file", manifest: bool = True
) -> None:
    """What the key holder can always do: a fresh manifest and fresh signatures."""
    if manifest:
        (bundle / "manifest.sha256").write_text(
            "".join(f"{sha256_file(bundle / n)}  {n}\n" for n in FILES)
        )
    for name in SIGNED:
        (bundle / f"{name}.sig").write_bytes(
            asyncssh.create_sshsig(key, (bundle / name).read_bytes(), namespace=namespace)
        )


def signer_line(key: asyncssh.SSHKey) -> str:
    public = " ".join(key.export_public_key("openssh").decode().split()[:2])
    return f'cutover-export namespaces="file" {public}'


def flip(path: Path, offset: int = 2000) -> None:
    data = bytearray(path.read_bytes())
    data[min(offset, len(data) - 1)] ^= 0x01
    path.write_bytes(bytes(data))


def jsonl(bundle: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (bundle / "events.jsonl").read_text().splitlines()]


def write_jsonl(bundle: Path, events: list[dict[str, Any]]) -> None:
    (bundle / "events.jsonl").write_text(
        "".join(
            json.dumps(e, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
            for e in events
        )
    )


def rehash(event: dict[str, Any]) -> dict[str, Any]:
    """The event's hash recomputed from its fields (a careful forger)."""
    fields = {k: event[k] for k in COLUMNS if k not in ("hash", "payload")}
    body = body_from_text(payload_text=canonical_json(event["payload"]), **fields)
    return {**event, "hash": body_hash(body)}


def rechain(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Renumber and re-link everything: a history the chain alone cannot tell from the real one."""
    out, prev = [], GENESIS
    for seq, event in enumerate(events, start=1):
        out.append(rehash({**event, "seq": seq, "prev": prev}))
        prev = out[-1]["hash"]
    return out


def forged_note(after: dict[str, Any], text: str = "all checks passed") -> dict[str, Any]:
    note = {
        **after,
        "seq": after["seq"] + 1,
        "kind": "note.added",
        "step": None,
        "idem": None,
        "payload": {"text": text},
        "prev": after["hash"],
    }
    return rehash(note)


def sql(target: Path, *statements: str) -> None:
    """Edit a journal (a bundle's copy, given the bundle) in place, guards dropped."""
    conn = sqlite3.connect(target / "journal.sqlite" if target.is_dir() else target)
    conn.execute("DROP TRIGGER IF EXISTS events_no_update")
    conn.execute("DROP TRIGGER IF EXISTS events_no_delete")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def without_constraints(target: Path) -> None:
    """The events table rebuilt without NOT NULL (what lets a row of NULLs in)."""
    columns = ", ".join(("seq INTEGER PRIMARY KEY", *COLUMNS[1:]))
    sql(
        target,
        "ALTER TABLE events RENAME TO old_events",
        f"CREATE TABLE events ({columns})",
        "INSERT INTO events SELECT * FROM old_events",
        "DROP TABLE old_events",
    )


def hot_journal(db: Path, forge: Callable[[sqlite3.Connection], None]) -> None:
    """Write `db`-journal by hand: a hot rollback journal whose playback turns `db` into what
    `forge` makes of a copy. `db` itself stays byte for byte the signed file."""
    forged = db.with_name("forged.tmp")
    shutil.copy(db, forged)
    conn = sqlite3.connect(forged)
    forge(conn)
    conn.commit()
    conn.close()
    good, bad = db.read_bytes(), forged.read_bytes()
    forged.unlink()
    size = int.from_bytes(good[16:18], "big") or 65536
    nonce, pages = 0x5EED, len(bad) // size
    records = []
    for number in range(pages):
        page = bad[number * size : (number + 1) * size]
        if good[number * size : (number + 1) * size] != page:
            checksum = nonce + sum(page[i] for i in range(size - 200, 0, -200))
            records.append(struct.pack(">I", number + 1) + page + struct.pack(">I", checksum))
    header = bytes.fromhex("d9d505f920a163d7") + struct.pack(
        ">IIIII", len(records), nonce, pages, 512, size
    )
    db.with_name(db.name + "-journal").write_bytes(header.ljust(512, b"\0") + b"".join(records))


def gwen_completes(conn: sqlite3.Connection) -> None:
    """The forgery of the story: a step dana-whitfield completed, completed by gwen-alvarez."""
    conn.execute("DROP TRIGGER IF EXISTS events_no_update")
    conn.execute(
        "UPDATE events SET actor = 'gwen-alvarez' WHERE seq = (SELECT min(seq) FROM events "
        "WHERE kind = 'step.completed' AND actor = 'dana-whitfield')"
    )


def forge_journal(source: Path, target: Path, edit: Callable[[list[dict[str, Any]]], Any]) -> None:
    """A copy of `source` with its events edited and the whole chain recomputed (the insider)."""
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    conn.execute("VACUUM INTO ?", (str(target),))
    conn.close()
    conn = sqlite3.connect(target)
    rows = [
        {**dict(zip(COLUMNS, r, strict=True)), "payload": json.loads(r[6])}
        for r in conn.execute(f"SELECT {', '.join(COLUMNS)} FROM events ORDER BY seq")
    ]
    events = rechain(edit(rows))
    conn.execute("DROP TRIGGER events_no_delete")
    conn.execute("DELETE FROM events")
    conn.executemany(
        f"INSERT INTO events VALUES ({', '.join('?' * len(COLUMNS))})",
        [tuple(canonical_json(e[k]) if k == "payload" else e[k] for k in COLUMNS) for e in events],
    )
    conn.commit()
    conn.close()


def reexport(b: Base, bundle: Path, edit: Callable[[list[dict[str, Any]]], Any]) -> None:
    """The insider's forgery: an edited history, exported and signed with the real key."""
    shutil.rmtree(bundle)
    forged = bundle.parent / "forged.sqlite"
    forge_journal(b.journal, forged, edit)
    export(forged, bundle, b.key)


def rewrite_actor(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = next(r for r in rows if r["kind"] == "step.completed" and r["actor"] == "dana-whitfield")
    done["actor"] = "gwen-alvarez"
    return rows


def insert_note(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    note = {**rows[59], "kind": "note.added", "step": None, "idem": None}
    return [*rows[:60], {**note, "payload": {"text": "rollback rehearsed, all green"}}, *rows[60:]]


# --- the corpus -------------------------------------------------------------------------------


@dataclass
class Case:
    mutate: Callable[[Base, Path], list[str] | None]  # returns extra verify arguments
    code: int
    named: str  # in the output
    passes_without_checkpoint: bool = False  # only --expect-head can catch it


def _args(b: Base, *extra: str) -> list[str]:
    return ["--expect-head", b.head, *extra]


def case_flip(name: str) -> Case:
    return Case(lambda b, d: flip(d / name), 1, f"{name} does not match its SHA-256")


def _truncate_jsonl(b: Base, d: Path) -> None:
    lines = (d / "events.jsonl").read_text().splitlines(keepends=True)
    (d / "events.jsonl").write_text("".join(lines[:-5]))


def _forged_checkpoint_old_signature(b: Base, d: Path) -> None:
    (d / "checkpoint.txt").write_text("1:" + "b" * 64 + "\nevents 1\n")


def _symlink(name: str, inside: bool) -> Callable[[Base, Path], None]:
    def mutate(b: Base, d: Path) -> None:
        target = d / f".{name}.same" if inside else d.parent / f"{name}.same"
        shutil.copy(d / name, target)
        (d / name).unlink()
        (d / name).symlink_to(target.name if inside else target)

    return mutate


def _hot_journal(b: Base, d: Path) -> None:
    hot_journal(d / "journal.sqlite", gwen_completes)


def _side_file(suffix: str) -> Callable[[Base, Path], None]:
    def mutate(b: Base, d: Path) -> None:
        (d / f"journal.sqlite{suffix}").write_bytes(b"\0" * 4096)

    return mutate


def _live_wal(b: Base, d: Path) -> None:
    """The bundle's journal opened by a writer in WAL mode and left open (-wal and -shm)."""
    conn = sqlite3.connect(d / "journal.sqlite")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET actor = 'gwen-alvarez' WHERE seq = 5")
    conn.commit()
    shutil.copytree(d, d.parent / "snapshot")  # what a crash would leave, files and all
    conn.close()
    shutil.rmtree(d)
    (d.parent / "snapshot").rename(d)


def _extra_file(b: Base, d: Path) -> None:
    (d / "notes \x1b[31mred.txt").write_text("hello")  # an escape in a name stays inert


def _fifo(b: Base, d: Path) -> None:
    (d / "report.md").unlink()
    os.mkfifo(d / "report.md")  # opening a FIFO for reading would block for ever


def _directory(b: Base, d: Path) -> None:
    (d / "events.jsonl").unlink()
    (d / "events.jsonl").mkdir()


def _huge_sparse(b: Base, d: Path) -> None:
    with (d / "events.jsonl").open("r+b") as handle:
        handle.truncate(3 << 30)  # 3 GiB, sparse: nothing near that is read


def _huge_line_resigned(b: Base, d: Path) -> None:
    with (d / "events.jsonl").open("ab") as handle:
        handle.write(b'{"x":"' + b"A" * (20 << 20) + b'"}\n')
    resign(d, b.key)


def _stranger_signs(b: Base, d: Path) -> None:
    flip(d / "events.jsonl")
    resign(d, b.stranger)


def _complete_forgery(b: Base, d: Path) -> list[str]:
    flip(d / "events.jsonl")
    (d / "allowed_signers").write_text(signer_line(b.stranger) + "\n")
    resign(d, b.stranger)
    return ["--signer-fingerprint", b.fingerprint]


def _original_listed_too(first: str) -> Callable[[Base, Path], list[str]]:
    """Signed by a stranger; allowed_signers names the stranger and also the original key."""

    def mutate(b: Base, d: Path) -> list[str]:
        original, stranger = signer_line(b.key), signer_line(b.stranger)
        text = {
            "original first": f"{original}\n{stranger}\n",
            "original second": f"{stranger}\n{original}\n",
            "original in a comment": f"# {original.split(' ', 2)[2]}\n{stranger}\n",
        }[first]
        (d / "allowed_signers").write_text(text)
        flip(d / "events.jsonl")
        resign(d, b.stranger)
        return ["--signer-fingerprint", b.fingerprint]

    return mutate


def _two_signers_listed(b: Base, d: Path) -> None:
    (d / "allowed_signers").write_text(f"{signer_line(b.key)}\n{signer_line(b.stranger)}\n")
    resign(d, b.key)


def _mixed_signers(b: Base, d: Path) -> None:
    resign(d, b.key)
    (d / "manifest.sha256.sig").write_bytes(
        asyncssh.create_sshsig(b.stranger, (d / "manifest.sha256").read_bytes(), namespace="file")
    )


def _garbage_signature(b: Base, d: Path) -> None:
    (d / "checkpoint.txt.sig").write_bytes(b"-----BEGIN SSH SIGNATURE-----\nnope\n")


def _resigned(edit: Callable[[Path], None]) -> Callable[[Base, Path], None]:
    def mutate(b: Base, d: Path) -> None:
        edit(d)
        resign(d, b.key)

    return mutate


def _non_utf8_line(d: Path) -> None:
    data = (d / "events.jsonl").read_bytes()
    at = data.index(b'"actor":"') + len(b'"actor":"')
    (d / "events.jsonl").write_bytes(data[:at] + b"\xff\xfe" + data[at:])


def _not_json_line(d: Path) -> None:
    lines = (d / "events.jsonl").read_text().splitlines(keepends=True)
    lines[3] = "{not json\n"
    (d / "events.jsonl").write_text("".join(lines))


def _jsonl_insert(renumber: bool) -> Callable[[Path], None]:
    """A forged event after event 40, linked to it; with `renumber`, the later events are
    renumbered (but not re-hashed: that would be a rewrite, caught only by a checkpoint)."""

    def edit(d: Path) -> None:
        events = jsonl(d)
        later = [{**e, "seq": e["seq"] + 1} for e in events[40:]] if renumber else events[40:]
        write_jsonl(d, [*events[:40], forged_note(events[39]), *later])

    return edit


def _jsonl_swap(d: Path) -> None:
    events = jsonl(d)
    events[10], events[11] = events[11], events[10]
    write_jsonl(d, events)


def _jsonl_drop(d: Path) -> None:
    events = jsonl(d)
    write_jsonl(d, events[:50] + events[51:])


def _jsonl_change(d: Path) -> None:
    events = jsonl(d)
    events[30]["actor"] = "gwen-alvarez"
    write_jsonl(d, events)


def _jsonl_duplicate(d: Path) -> None:
    events = jsonl(d)
    write_jsonl(d, [*events[:60], events[20], *events[60:]])


def _sqlite_insert(d: Path) -> None:
    """A forged row after event 40 (the rows after it renumbered and re-hashed one by one)."""
    conn = sqlite3.connect(d / "journal.sqlite")
    rows = [dict(zip(COLUMNS, r, strict=True)) for r in conn.execute("SELECT * FROM events")]
    conn.close()
    events = [{**r, "payload": json.loads(r["payload"])} for r in rows]
    later = [rehash({**e, "seq": e["seq"] + 1}) for e in events[40:]]
    new = [*events[:40], forged_note(events[39]), *later]
    sql(d, "DELETE FROM events")
    conn = sqlite3.connect(d / "journal.sqlite")
    conn.executemany(
        "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [tuple(canonical_json(e[k]) if k == "payload" else e[k] for k in COLUMNS) for e in new],
    )
    conn.commit()
    conn.close()


def _null_row(d: Path) -> None:
    without_constraints(d)
    sql(d, "INSERT INTO events DEFAULT VALUES")


def _text_journal(d: Path) -> None:
    (d / "journal.sqlite").write_text("not a database, just text\n" * 100)


def _empty(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).write_bytes(b"")


def _garbage_checkpoint(d: Path) -> None:
    (d / "checkpoint.txt").write_bytes(b"\x1b]0;owned\x07 hello\n")


def _garbage_manifest(b: Base, d: Path) -> None:
    (d / "manifest.sha256").write_text("trust me\n")
    resign(d, b.key, manifest=False)


def _report_says(name: str) -> Callable[[Path], None]:
    def edit(d: Path) -> None:
        text = (d / name).read_text()
        (d / name).write_text(text.replace("dana-whitfield", "gwen-alvarez", 3))

    return edit


def _verify_md_says(d: Path) -> None:
    text = (d / "VERIFY.md").read_text()
    (d / "VERIFY.md").write_text(text.replace("?immutable=1", ""))


def _checkpoint_earlier(d: Path) -> None:
    event = jsonl(d)[119]
    (d / "checkpoint.txt").write_text(f"120:{event['hash']}\nevents 120\n")


def _forged_checkpoint_resigned(d: Path) -> None:
    (d / "checkpoint.txt").write_text(f"139:{'a' * 64}\nevents 139\n")


def _reexported(edit: Callable[[list[dict[str, Any]]], Any]) -> Callable[[Base, Path], list[str]]:
    def mutate(b: Base, d: Path) -> list[str]:
        reexport(b, d, edit)
        return _args(b, "--signer-fingerprint", b.fingerprint)

    return mutate


def _jsonl_cut_sqlite_intact(b: Base, d: Path) -> list[str]:
    """Only events.jsonl cut at 120 (journal.sqlite and the checkpoint left whole)."""
    write_jsonl(d, jsonl(d)[:120])
    resign(d, b.key)
    return _args(b)


def _many_entries(b: Base, d: Path) -> None:
    for i in range(80):
        (d / f"x{i}").write_text("")


def _many_null_rows(d: Path) -> None:
    without_constraints(d)
    sql(
        d,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 250000) "
        "INSERT INTO events (ts) SELECT NULL FROM n",
    )


def _view_events(d: Path) -> None:
    """events as a view that never ends: reading it would hang the verifier."""
    sql(
        d,
        "ALTER TABLE events RENAME TO real_events",
        "CREATE VIEW events AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT e.* FROM real_events e, n",
    )


def _not_a_bundle(b: Base, d: Path) -> None:
    for child in d.iterdir():
        child.unlink()
    (d / "holiday.jpg").write_bytes(b"\xff\xd8")


CASES: dict[str, Case] = {
    # outsiders: edits the signatures catch
    **{f"bit flip in {n}": case_flip(n) for n in FILES if n not in ("checkpoint.txt",)},
    "truncated events.jsonl": Case(_truncate_jsonl, 1, "events.jsonl does not match"),
    "forged checkpoint, old signature": Case(
        _forged_checkpoint_old_signature, 1, "signature of checkpoint.txt does not verify"
    ),
    "a file removed": Case(lambda b, d: (d / "report.md").unlink(), 1, "report.md is missing"),
    # files that are not the bundle's (issue 12, 3)
    "an extra file": Case(_extra_file, 1, "not part of an export: notes ␛[31mred.txt"),
    "symlink to identical content outside": Case(
        _symlink("report.md", inside=False), 1, "report.md is a symlink"
    ),
    "symlink to identical content inside": Case(
        _symlink("journal.sqlite", inside=True), 1, "journal.sqlite is a symlink"
    ),
    "hot rollback journal": Case(
        _hot_journal, 1, "journal.sqlite-journal (a SQLite rollback journal) is beside"
    ),
    "-wal beside the journal": Case(_side_file("-wal"), 1, "journal.sqlite-wal (a SQLite write"),
    "-shm beside the journal": Case(_side_file("-shm"), 1, "journal.sqlite-shm (a SQLite shared"),
    "a live WAL beside the journal": Case(_live_wal, 1, "journal.sqlite-wal (a SQLite write"),
    "a FIFO": Case(_fifo, 1, "report.md is not a regular file"),
    "a directory": Case(_directory, 1, "events.jsonl is not a regular file"),
    "more entries than a bundle": Case(_many_entries, 1, "holds more than 64 entries"),
    "not a bundle at all": Case(_not_a_bundle, 2, "is not a bundle"),
    # limits (nothing big is read)
    "3 GiB events.jsonl": Case(_huge_sparse, 1, "events.jsonl is 3,221,225,472 bytes"),
    "20 MiB line, re-signed": Case(_huge_line_resigned, 1, "events.jsonl line 140 is longer"),
    "250,000 NULL rows, re-signed": Case(
        _resigned(_many_null_rows), 1, "journal.sqlite holds 250,139 events, more than"
    ),
    "events is an endless view, re-signed": Case(
        _resigned(_view_events), 1, "journal.sqlite: events is not a plain table"
    ),
    # the signer is the key in the signature (issue 12, 2)
    "re-signed with another key": Case(_stranger_signs, 1, "does not verify against allowed"),
    "complete forgery by another key": Case(_complete_forgery, 1, "not by the expected"),
    **{
        f"another key, {where}": Case(_original_listed_too(where), 1, "not by the expected")
        for where in ("original first", "original second", "original in a comment")
    },
    "two signers listed": Case(_two_signers_listed, 1, "must name exactly one signer"),
    "signatures by two keys": Case(_mixed_signers, 1, "made by different keys"),
    "garbage signature": Case(_garbage_signature, 1, "checkpoint.txt.sig is not an SSH signature"),
    "another namespace": Case(
        lambda b, d: resign(d, b.key, namespace="git"), 1, "signature for another purpose"
    ),
    # malformed content, signed by the key holder: named, never a traceback (issue 12, 4)
    "non-UTF-8 events.jsonl": Case(
        _resigned(_non_utf8_line), 1, "events.jsonl line 1 is not UTF-8 text"
    ),
    "events.jsonl line not JSON": Case(
        _resigned(_not_json_line), 1, "events.jsonl line 4 is not an event"
    ),
    "journal.sqlite is text": Case(
        _resigned(_text_journal), 1, "journal.sqlite is not an SQLite database"
    ),
    "journal.sqlite is empty": Case(
        _resigned(_empty("journal.sqlite")), 1, "journal.sqlite is empty"
    ),
    "checkpoint.txt is garbage": Case(
        _resigned(_garbage_checkpoint), 1, "checkpoint.txt is not a checkpoint"
    ),
    "checkpoint.txt is empty": Case(
        _resigned(_empty("checkpoint.txt")), 1, "checkpoint.txt is not a checkpoint"
    ),
    "manifest is garbage": Case(_garbage_manifest, 1, "manifest.sha256 line 1 is not"),
    # what the chain names, in either copy (issue 12, 5)
    "inserted line": Case(_resigned(_jsonl_insert(False)), 1, "events.jsonl: inserted: event 41"),
    "inserted line, renumbered": Case(
        _resigned(_jsonl_insert(True)), 1, "events.jsonl: inserted: event 41"
    ),
    "a line stored twice": Case(_resigned(_jsonl_duplicate), 1, "events.jsonl: inserted"),
    "reordered lines": Case(_resigned(_jsonl_swap), 1, "events.jsonl: reordered"),
    "a line removed": Case(_resigned(_jsonl_drop), 1, "events.jsonl: missing: event(s) 51"),
    "a line changed": Case(_resigned(_jsonl_change), 1, "events.jsonl: changed: event 31"),
    "inserted row, re-hashed": Case(
        _resigned(_sqlite_insert), 1, "journal.sqlite: inserted: event 41"
    ),
    # rows a hash means nothing over (issue 12, 8)
    "a row of NULLs": Case(
        _resigned(_null_row), 1, "journal.sqlite: malformed: stored row 140 (seq 140)"
    ),
    # the reports are what the journal gives (issue 12, 6)
    "report.md says otherwise": Case(
        _resigned(_report_says("report.md")), 1, "report.md is not what the journal gives: line"
    ),
    "report.html says otherwise": Case(
        _resigned(_report_says("report.html")), 1, "report.html is not what the journal gives"
    ),
    "VERIFY.md unsafe": Case(
        _resigned(_verify_md_says), 1, "VERIFY.md is not what the journal gives"
    ),
    # checkpoints (issue 12, 1): the signed one, and the one the client wrote down
    "forged checkpoint, re-signed": Case(_resigned(_forged_checkpoint_resigned), 1, "rewritten"),
    "journal goes past the signed checkpoint": Case(
        _resigned(_checkpoint_earlier), 1, "journal.sqlite: extended"
    ),
    "insider rewrote history": Case(
        _reexported(rewrite_actor), 1, "journal.sqlite: rewritten: event 139", True
    ),
    "insider cut history at 120": Case(
        _reexported(lambda rows: rows[:120]), 1, "journal.sqlite: truncated", True
    ),
    "insider inserted a forged event": Case(
        _reexported(insert_note), 1, "journal.sqlite: rewritten: event 139", True
    ),
    "events.jsonl alone cut at 120": Case(_jsonl_cut_sqlite_intact, 1, "events.jsonl: truncated"),
}


@pytest.mark.parametrize("name", CASES)
def test_hostile_bundle_is_refused(base: Base, tmp_path: Path, name: str) -> None:
    case = CASES[name]
    bundle = tmp_path / "bundle"
    shutil.copytree(base.bundle, bundle, symlinks=True)
    args = case.mutate(base, bundle) or []
    started = time.monotonic()
    code, output = verify(bundle, *args)
    assert time.monotonic() - started < 10
    assert "Traceback" not in output, output
    assert code == case.code and case.named in output, output
    assert "\x1b" not in output and "\x07" not in output
    if case.passes_without_checkpoint:  # a consistent forgery: only the checkpoint tells
        without = [a for a in args if a not in ("--expect-head", base.head)]
        assert verify(bundle, *without)[0] == 0


def test_untouched_bundle_passes(base: Base) -> None:
    code, output = verify(
        base.bundle, "--signer-fingerprint", base.fingerprint, "--expect-head", base.head
    )
    assert code == 0, output
    assert f"139 events, head {base.head}; signed by {base.fingerprint}, the expected key" in output
    assert "contains the checkpoint" in output and "0 event(s) after it" in output
    code, output = verify(base.bundle)
    assert code == 0 and "compare it with the fingerprint you were given" in output


def test_an_earlier_checkpoint_is_contained(base: Base, tmp_path: Path) -> None:
    """A checkpoint quoted during the cutover is a prefix of the final export: later events are
    fine and counted; a checkpoint the journal does not contain is not."""
    event = jsonl(base.bundle)[99]
    code, output = verify(base.bundle, "--expect-head", f"100:{event['hash']}")
    assert code == 0 and "39 event(s) after it" in output, output
    code, output = verify(base.bundle, "--expect-head", f"100:{'c' * 64}")
    assert code == 1 and "journal.sqlite: rewritten: event 100" in output, output
    code, output = verify(base.bundle, "--expect-head", f"150:{'c' * 64}")
    assert code == 1 and "journal.sqlite: truncated" in output, output


def test_verify_reads_the_journal_immutable(base: Base, tmp_path: Path) -> None:
    """Even handed a hot journal directly (no inventory first), the journal reader never applies
    it: the rows it reads are the signed ones, and the file is left as it was."""
    from cutover_console.report.bundle import _journal_rows

    bundle = tmp_path / "bundle"
    shutil.copytree(base.bundle, bundle)
    before = sha256_file(bundle / "journal.sqlite")
    hot_journal(bundle / "journal.sqlite", gwen_completes)
    rows = _journal_rows(bundle, os.lstat(bundle / "journal.sqlite"))
    assert "gwen-alvarez" not in {r.actor for r in rows if r.kind == "step.completed"}
    assert sha256_file(bundle / "journal.sqlite") == before
    assert (bundle / "journal.sqlite-journal").exists()


def verify_md_commands(bundle: Path) -> list[str]:
    """The shell commands of VERIFY.md's OpenSSH section, continuation lines joined."""
    section = (bundle / "VERIFY.md").read_text().split("## With OpenSSH")[1]
    block = "\n".join(line[4:] for line in section.splitlines() if line.startswith("    "))
    return [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]


def test_stock_tools_route_is_safe_against_a_hot_journal(base: Base, tmp_path: Path) -> None:
    """VERIFY.md's commands, run as written, on a bundle with a crafted hot rollback journal:
    they show the signed history, and the file stays as signed; a plain `sqlite3` would have
    rolled the client's copy back to the forgery."""
    for binary in ("ssh-keygen", "sqlite3", "sha256sum"):
        require_binary(binary)
    bundle = tmp_path / "bundle"
    shutil.copytree(base.bundle, bundle)
    hot_journal(bundle / "journal.sqlite", gwen_completes)
    naive = tmp_path / "naive"
    shutil.copytree(bundle, naive)

    def sh(command: str, cwd: Path = bundle) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True)

    who = (
        "SELECT actor FROM events WHERE kind = 'step.completed' AND step = (SELECT step FROM "
        "events WHERE kind = 'step.completed' AND actor IN ('dana-whitfield', 'gwen-alvarez') "
        "ORDER BY seq LIMIT 1)"
    )
    assert sh(f'sqlite3 journal.sqlite "{who}"', naive).stdout.strip() == "gwen-alvarez"

    commands = verify_md_commands(bundle)
    assert commands[0] == "ls -lA" and commands.index("sha256sum -c manifest.sha256") < next(
        i for i, c in enumerate(commands) if c.startswith("sqlite3")
    )
    results = [sh(c) for c in commands]
    assert all(r.returncode == 0 for r in results), [(r.args, r.stderr) for r in results]
    assert "journal.sqlite-journal" in results[0].stdout  # what `ls -lA` shows the client
    assert all("Good" in r.stdout + r.stderr for r in results if "ssh-keygen" in str(r.args))
    assert results[-2].stdout.strip() == "ok"
    head = (bundle / "checkpoint.txt").read_text().splitlines()[0]
    assert results[-1].stdout.strip() == head
    immutable = sh(f"sqlite3 'file:journal.sqlite?immutable=1' \"{who}\"")
    assert immutable.stdout.strip() == "dana-whitfield"
    assert sh("sha256sum -c manifest.sha256").returncode == 0  # the client's copy is untouched
    code, output = verify(bundle)
    assert code == 1 and "journal.sqlite-journal (a SQLite rollback journal) is beside" in output


def garbage_row(prev: str, fields: dict[str, Any]) -> tuple[Any, ...]:
    """Event 140 after `prev` with `fields` replaced, its hash made over whatever it holds
    (unless `hash` is given): consistent, so only the check of the fields can refuse it."""
    row = {
        "ts": "2026-12-06T23:00:00Z",
        "actor": "gwen-alvarez",
        "os_user": "root",
        "kind": "note.added",
        "step": None,
        "payload": '{"text":"all done"}',
        "v": 1,
        "idem": None,
        "prev": prev,
        **fields,
    }
    if "hash" not in row:
        body = body_from_text(
            140, payload_text=row["payload"], **{k: v for k, v in row.items() if k != "payload"}
        )
        row["hash"] = body_hash(body)
    return tuple(row[k] for k in COLUMNS[1:])


GARBAGE_ROWS: dict[str, tuple[dict[str, Any], str]] = {
    "all NULL": (dict.fromkeys(COLUMNS[1:]), "v is NULL"),
    "NULL hash": ({"hash": None}, "hash is NULL, not 64 lowercase hex digits"),
    "garbage prev": ({"prev": "zz"}, "prev is 'zz', not 64 lowercase hex digits"),
    "blob payload": ({"payload": b"\0", "hash": "d" * 64}, "the payload is a blob of 1 bytes"),
    "payload not JSON": ({"payload": "not json"}, "the payload is not a JSON object"),
    "payload a JSON list": ({"payload": "[1]"}, "the payload is not a JSON object"),
    "v is text": ({"v": "one"}, "v is 'one', not a whole number"),
    "NULL kind": ({"kind": None}, "kind is NULL, not text"),
}


@pytest.mark.parametrize("name", GARBAGE_ROWS)
def test_garbage_row_in_a_journal_file(base: Base, tmp_path: Path, name: str) -> None:
    """A journal file with a 140th row of NULLs or garbage whose own hash and link are right:
    the chain alone would take it for the last event."""
    fields, named = GARBAGE_ROWS[name]
    journal = tmp_path / "j.sqlite"
    conn = sqlite3.connect(f"file:{base.journal}?mode=ro", uri=True)
    conn.execute("VACUUM INTO ?", (str(journal),))
    conn.close()
    without_constraints(journal)
    conn = sqlite3.connect(journal)
    prev = conn.execute("SELECT hash FROM events WHERE seq = 139").fetchone()[0]
    conn.execute("INSERT INTO events VALUES (NULL, ?,?,?,?,?,?,?,?,?,?)", garbage_row(prev, fields))
    conn.commit()
    conn.close()
    result = run_cli("verify", str(journal))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED at event 140: malformed: stored row 140 (seq 140)" in result.stderr
    assert named in result.stderr and "Traceback" not in result.stderr, result.stderr


# --- the chain's classification, on rows in memory --------------------------------------------


def chain(n: int = 12) -> list[StoredRow]:
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        row = StoredRow(
            seq,
            "2026-12-05T12:00:00Z",
            "lena",
            "root",
            "note.added",
            None,
            canonical_json({"text": f"note {seq}"}),
            1,
            None,
            prev,
            "",
        )
        rows.append(sealed(row))
        prev = rows[-1].hash
    return rows


def sealed(row: StoredRow, **changes: Any) -> StoredRow:
    """`row` with `changes` and its own hash recomputed (a forger who re-hashes)."""
    new = replace(row, **changes)
    new.hash = body_hash(
        body_from_text(
            new.seq,
            new.ts,
            new.actor,
            new.os_user,
            new.kind,
            new.step,
            new.payload_text,
            new.v,
            new.idem,
            new.prev,
        )
    )
    return new


def renumbered(rows: list[StoredRow], by: int) -> list[StoredRow]:
    """Sequence numbers moved, hashes left as they were."""
    return [replace(r, seq=r.seq + by) for r in rows]


def forged_after(row: StoredRow, **changes: Any) -> StoredRow:
    fields = {"seq": row.seq + 1, "prev": row.hash, "payload_text": '{"text":"forged"}'}
    return sealed(row, **{**fields, **changes})


CHAIN_CASES: dict[str, tuple[Callable[[list[StoredRow]], list[StoredRow]], str, int | None]] = {
    "insert, no renumbering": (lambda r: [*r[:5], forged_after(r[4]), *r[5:]], "inserted", 6),
    "insert, renumbered": (
        lambda r: [*r[:5], forged_after(r[4]), *renumbered(r[5:], 1)],
        "inserted",
        6,
    ),
    "insert after the original": (
        lambda r: [*r[:6], sealed(r[5], payload_text='{"text":"forged"}'), *r[6:]],
        "inserted",
        6,
    ),
    "insert at the start, renumbered": (
        lambda r: [sealed(r[0], payload_text='{"text":"forged"}'), *renumbered(r, 1)],
        "inserted",
        1,
    ),
    "insert with a broken link": (
        lambda r: [*r[:5], forged_after(r[4], prev="e" * 64), *r[5:]],
        "inserted",
        6,
    ),
    "an event stored twice": (lambda r: [*r[:8], r[2], *r[8:]], "inserted", 3),
    "delete, renumbered": (lambda r: [*r[:5], *renumbered(r[6:], -1)], "missing", 6),
    "delete": (lambda r: [*r[:5], *r[6:]], "missing", 6),
    "moved later": (lambda r: [*r[:4], *r[5:9], r[4], *r[9:]], "reordered", 6),
    "moved earlier": (lambda r: [*r[:4], r[8], *r[4:8], *r[9:]], "reordered", 9),
    "swapped": (lambda r: [*r[:3], r[4], r[3], *r[5:]], "reordered", 5),
    "swapped, renumbered": (
        lambda r: [*r[:3], *renumbered([r[4]], -1), *renumbered([r[3]], 1), *r[5:]],
        "reordered",
        4,
    ),
    "changed": (lambda r: [*r[:6], replace(r[6], actor="x"), *r[7:]], "changed", 7),
    "changed and re-hashed": (lambda r: [*r[:6], sealed(r[6], actor="x"), *r[7:]], "changed", 7),
    "NULL hash": (lambda r: [*r[:-1], replace(r[-1], hash=None)], "malformed", 12),
    "NULL payload, hash of null": (
        lambda r: [*r[:-1], sealed(r[-1], payload_text="null")],
        "malformed",
        12,
    ),
}


@pytest.mark.parametrize("name", CHAIN_CASES)
def test_chain_names_what_was_done(name: str) -> None:
    edit, kind, seq = CHAIN_CASES[name]
    report = verify_rows(edit(chain()))
    assert report.problem is not None and report.problem.startswith(f"{kind}:"), report.problem
    assert report.bad_seq == seq, report.problem


def appended_events(b: Base, bundle: Path, payloads: list[str]) -> None:
    """Events with these payload texts appended to the bundle's journal and events.jsonl, the
    chain and checkpoint extended, re-signed (the insider's bundle, consistent but for the
    reports)."""
    conn = sqlite3.connect(bundle / "journal.sqlite")
    seq, prev, ts = conn.execute(
        "SELECT seq, hash, ts FROM events ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    with (bundle / "events.jsonl").open("a") as jsonl:
        for payload in payloads:
            seq += 1
            fields = (seq, ts, "dana-whitfield", "root", "note.added", None, payload, 1, None, prev)
            body = body_from_text(*fields)
            prev = body_hash(body)
            conn.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)", (*fields, prev))
            jsonl.write(body.replace(',"idem":', f',"hash":"{prev}","idem":', 1) + "\n")
    conn.commit()
    conn.close()
    (bundle / "checkpoint.txt").write_text(f"{seq}:{prev}\nevents {seq}\n")
    resign(bundle, b.key)


def measured(bundle: Path) -> tuple[int, str, float, float]:
    """`cutover verify bundle`: exit code, output, wall seconds, this child's peak memory (MB)."""
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "cutover_console", "verify", str(bundle)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert child.stdout is not None
    output = child.stdout.read().decode()
    _, status, usage = os.wait4(child.pid, 0)  # the child's own rusage, not all children's
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    return child.returncode, output, time.monotonic() - started, usage.ru_maxrss / 1024


@pytest.mark.parametrize(
    ("build", "named"),
    [
        (lambda b, d: _huge_line_resigned(b, d), "events.jsonl line 140 is longer"),
        (  # a payload of a million tiny objects: ~25 times its size once parsed
            lambda b, d: appended_events(b, d, ['{"x":[' + ",".join(["{}"] * 600_000) + "]}"]),
            "the payload holds more than 1,000,000 JSON values",
        ),
        (  # under the per-payload cap, over the journal's
            lambda b, d: appended_events(b, d, ['{"x":[' + ",".join(["[]"] * 450_000) + "]}"] * 3),
            "payloads hold more than 2,500,000 JSON values",
        ),
        (  # under both: parsed, then the reports do not match
            lambda b, d: appended_events(b, d, ['{"x":[' + ",".join(["{}"] * 450_000) + "]}"] * 2),
            "report.md is not what the journal gives",
        ),
    ],
)
def test_bombs_stay_small_and_quick(base: Base, tmp_path: Path, build: Any, named: str) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(base.bundle, bundle)
    build(base, bundle)
    code, output, seconds, megabytes = measured(bundle)
    assert code == 1 and named in output and "Traceback" not in output, output
    assert seconds < 10 and megabytes < 500, (seconds, megabytes)
