"""Fold snapshots (issue 14): a snapshot plus the events after it is exactly the full fold, and a
snapshot that is damaged, hostile, stale or of another journal is never used."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from support import SMALL

from cutover_console.journal import Actor, JournalReader, JournalWriter
from cutover_console.plan import load_plan, load_plan_text
from cutover_console.runbook import Cutover, CutoverState, StepState, load_state
from cutover_console.runbook import snapshot as snap
from cutover_console.runbook.snapshot import (
    SnapshotInvalid,
    load_snapshot,
    resume_state,
    save_snapshot,
    snapshot_path,
)

ENGINE = Actor("engine:dns", "test")


def fields(state: CutoverState) -> dict[str, Any]:
    """Every field of the fold, the plan by its text and digest."""
    out = {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}
    document = out.pop("document")
    out["plan"] = (document.text, document.sha256, document.file)
    return out


def busy(c: Cutover) -> None:
    """Every kind of event the fold knows, and payloads that look like the codec's own tags."""
    w = c.writer
    c.start("freeze", "omar")
    c.note("freeze started", "lena", step_id="freeze")
    c.complete("freeze", "omar")
    c.start("backup", "dmitri")
    c.signoff("backup", "dmitri")
    c.signoff("backup", "lena")
    c.complete("backup", "dmitri")
    c.reopen("backup", "lena", "redo it")
    c.start("backup", "dmitri")
    c.override_gate("dns-switch", "authority-new", "lena", "checked by hand")
    c.note("a cutover note", "lena")
    tricky = {"$t": "2026-12-05T13:00:00+00:00", "$d": [1], "at": "not a time", "n": [1.5, None]}
    w.append("dns.verdict", {"record": "a.test", "resolver": "9.9.9.9", "x": tricky}, actor=ENGINE)
    w.append("dns.record", {"record": "a.test", "percent": 42.5}, actor=ENGINE)
    w.append("dns.authority", {"record": "a.test", "serials": [1, 2]}, actor=ENGINE)
    w.append("flow.state", {"flow": "f", "side": "old", "status": "late"}, actor=ENGINE)
    w.append("flow.site", {"flow": "f", "site": "shop1", "status": "moved"}, actor=ENGINE)
    w.append("reconcile.result", {"reconciliation": "rows", "status": "ok"}, actor=ENGINE)
    w.append(
        "gate.evaluated",
        {"gate": "authority-new", "ok": True, "detail": "ok", "evidence": {"$u": "x", "k": {}}},
        actor=ENGINE,
        step="dns-switch",
    )
    c.record_watcher(True, {"fingerprint": "SHA256:x", "comment": "raj", "$t": "payload's"})
    # an older writer's payload that claims the event's own time: kept as malformed (issue 20)
    w.append("watcher.connected", {"comment": "raj", "at": "payload's"}, actor=ENGINE)
    w.append(
        "action.ran",
        {"kind": "command", "exit": 0, "tail": "done", "at": "the payload's own"},
        actor=Actor.here("dmitri"),
        step="backup",
    )
    text = SMALL.read_text().replace("duration: 45m", "duration: 1h15m")
    c.revise_plan(load_plan_text(text, "small.yaml"), "lena", "longer tests")
    c.note("after the revision", "omar", step_id="backup")


def snapshot_then_more(c: Cutover) -> Path:
    busy(c)
    saved = save_snapshot(c.writer, load_state(c.writer), min_events=0)
    assert saved == snapshot_path(c.writer.path) and saved.exists()
    c.note("after the snapshot", "lena")
    c.signoff("backup", "lena")
    return saved


def test_snapshot_plus_catch_up_is_exactly_the_full_fold(cutover: Cutover) -> None:
    snapshot_then_more(cutover)
    with JournalReader(cutover.writer.path) as reader:
        snapshot = load_snapshot(reader)
        assert snapshot.head_seq < reader.head().seq  # type: ignore[union-attr]
        resumed = resume_state(reader)
        full = load_state(reader)
    assert fields(resumed) == fields(full)
    assert full.signals.flow_sites and full.watchers and full.revisions and full.overrides
    assert full.signals.dns_verdicts[("a.test", "9.9.9.9")]["x"]["$t"] == (
        "2026-12-05T13:00:00+00:00"
    )  # a payload's string stays a string, whatever it looks like
    assert resumed.plan.step("verify-new").duration == full.plan.step("verify-new").duration


def test_resume_starts_from_the_snapshot_not_from_event_one(
    cutover: Cutover, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot_then_more(cutover)
    with JournalReader(cutover.writer.path) as reader:
        at = load_snapshot(reader).head_seq
        seen: list[int] = []
        real = reader.events

        def events(after: int = 0, until_ts: str | None = None) -> Any:
            seen.append(after)
            return real(after, until_ts)

        monkeypatch.setattr(reader, "events", events)
        resume_state(reader)
    assert 0 not in seen and at in seen  # never a replay from the start


STATE = [f.name for f in dataclasses.fields(CutoverState) if f.name != "document"]
STEP = [f.name for f in dataclasses.fields(StepState)]


def damage(path: Path, how: str) -> None:
    """Rewrite the snapshot at `path` in one of the ways a file can be wrong."""
    body = json.loads(path.read_bytes())
    state = body["state"]
    first_step = next(iter(state[STATE.index("steps")].values()))
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        return
    if how == "garbage":
        path.write_bytes(os.urandom(4096))
        return
    if how == "deep":
        path.write_text("[" * 100_000)
        return
    if how == "bomb":
        path.write_text("[" + "{}," * 60_000 + "{}]")
        return
    if how == "not an object":
        body = [1, 2, 3]
    elif how == "wrong type":
        state[STATE.index("created_at")] = 20261205
    elif how == "bad time":
        state[STATE.index("created_at")] = "yesterday"
    elif how == "bad status":
        first_step[STEP.index("status")] = "exploded"
    elif how == "bool for int":
        state[STATE.index("runbook_version")] = True
    elif how == "unknown tag":
        state[STATE.index("world_clock")] = {"speed": {"$x": 1}}
    elif how == "short state":
        body["state"] = state[:-1]
    elif how == "other code":
        body["fold_code"] = "0" * 32
    elif how == "other version":
        body["version"] = 99
    elif how == "head moved":
        body["head_seq"] -= 1
    elif how == "forged head hash":
        body["head_hash"] = "f" * 64
    elif how == "state not at head":
        state[STATE.index("head_seq")] -= 1
    elif how == "other plan":
        body["plan"]["sha256"] = "0" * 64
    elif how == "plan event not a plan":
        body["plan"]["seq"] = 2
    else:
        raise AssertionError(how)
    path.write_text(json.dumps(body))


HOW = [
    "truncated",
    "garbage",
    "deep",
    "bomb",
    "not an object",
    "wrong type",
    "bad time",
    "bad status",
    "bool for int",
    "unknown tag",
    "short state",
    "other code",
    "other version",
    "head moved",
    "forged head hash",
    "state not at head",
    "other plan",
    "plan event not a plan",
]


@pytest.mark.parametrize("how", HOW)
def test_a_damaged_snapshot_falls_back_to_the_full_fold(cutover: Cutover, how: str) -> None:
    saved = snapshot_then_more(cutover)
    damage(saved, how)
    with JournalReader(cutover.writer.path) as reader:
        with pytest.raises(SnapshotInvalid):
            load_snapshot(reader)
        resumed = resume_state(reader)  # no exception reaches the view
        assert fields(resumed) == fields(load_state(reader))


def test_a_snapshot_of_another_journal_is_ignored(
    cutover: Cutover, tmp_path: Path, clock: Any
) -> None:
    saved = snapshot_then_more(cutover)
    # the same plan and events a second later: another journal, its own chain from event 1
    # (identical chains would be the same history, whose fold is the same)
    clock.set(clock.now() + timedelta(seconds=1))
    other = tmp_path / "other.sqlite"
    document = load_plan(SMALL)
    writer = JournalWriter.create(
        other,
        document.text,
        document.sha256,
        document.file,
        Actor.here("lena"),
        cutover_id=document.plan.cutover.id,
        clock=clock,
    )
    try:
        twin = Cutover(writer, clock)
        busy(twin)
    finally:
        writer.close()
    snapshot_path(other).write_bytes(saved.read_bytes())
    with JournalReader(other) as reader:
        with pytest.raises(SnapshotInvalid, match="another journal"):
            load_snapshot(reader)
        assert fields(resume_state(reader)) == fields(load_state(reader))


def test_a_journal_rewritten_after_its_snapshot_is_folded_from_scratch(
    cutover: Cutover, tmp_path: Path
) -> None:
    saved = snapshot_then_more(cutover)
    at = json.loads(saved.read_bytes())["head_seq"]
    path = cutover.writer.path
    cutover.writer.close()
    import sqlite3

    with sqlite3.connect(path) as db:  # a different history from the snapshot's event on
        db.execute("DROP TRIGGER IF EXISTS events_no_update")
        db.execute("UPDATE events SET hash = ? WHERE seq = ?", ("e" * 64, at))
    try:
        with JournalReader(path) as reader:
            with pytest.raises(SnapshotInvalid, match=f"event {at} is not the one"):
                load_snapshot(reader)
            assert resume_state(reader).head_seq == reader.head().seq  # type: ignore[union-attr]
    finally:
        cutover.writer = JournalWriter.open(path, clock=cutover.clock)


def test_a_fold_in_memory_of_another_history_is_not_trusted(cutover: Cutover) -> None:
    busy(cutover)
    stale = load_state(cutover.writer)
    stale.head_hash = "d" * 64  # what a warm parent of another journal at this path would hold
    stale.notes.append(stale.notes[0])
    with JournalReader(cutover.writer.path) as reader:
        assert fields(resume_state(reader, stale)) == fields(load_state(reader))


@pytest.mark.parametrize("how", ["world-writable", "symlink", "fifo", "directory", "too big"])
def test_a_snapshot_file_that_cannot_be_trusted_is_not_read(cutover: Cutover, how: str) -> None:
    saved = snapshot_then_more(cutover)
    if how == "world-writable":
        saved.chmod(0o666)
    elif how == "symlink":
        real = saved.with_name("elsewhere")
        saved.rename(real)
        saved.symlink_to(real)
    elif how == "fifo":
        saved.unlink()
        os.mkfifo(saved)  # opened without blocking, refused as not a regular file
    elif how == "directory":
        saved.unlink()
        saved.mkdir()
    elif how == "too big":
        with saved.open("ab") as out:
            out.write(b" " * (cutover.writer.path.stat().st_size + (2 << 20)))
    with JournalReader(cutover.writer.path) as reader:
        with pytest.raises(SnapshotInvalid):
            load_snapshot(reader)
        assert fields(resume_state(reader)) == fields(load_state(reader))


def test_short_journals_leave_no_file_and_the_lead_writes_one_at_close(
    cutover: Cutover, tmp_path: Path
) -> None:
    busy(cutover)
    assert save_snapshot(cutover.writer, cutover.state) is None  # below MIN_EVENTS
    assert not snapshot_path(cutover.writer.path).exists()
    assert snap.FOLD_CODE  # the code's identity is known here, so snapshots are in use


def test_the_lead_leaves_a_snapshot_at_close_and_starts_from_it(
    cutover: Cutover, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cutover_console.service.lead import LeadSession

    path = cutover.writer.path
    cutover.record_many(
        [
            ("note.added", {"text": f"n{i}"}, Actor.here("lena"), None)
            for i in range(snap.MIN_EVENTS)
        ]
    )
    cutover.writer.close()
    session = LeadSession(JournalWriter.open(path, clock=clock), clock)
    head = session.state.head_seq
    session.close()
    assert load_snapshot(JournalReader(path)).head_seq == head  # written at close
    writer = JournalWriter.open(path, clock=clock)

    def no_full_fold(*_args: Any) -> CutoverState:
        raise AssertionError("folded from event 1")

    monkeypatch.setattr(CutoverState, "from_events", no_full_fold)
    try:
        resumed = Cutover(writer, clock)  # the writer's state comes from the snapshot
        assert resumed.state.head_seq == writer.head().seq  # type: ignore[union-attr]
        monkeypatch.undo()
        assert fields(resumed.state) == fields(load_state(writer))
    finally:
        cutover.writer = writer


def test_a_watch_session_hands_the_journal_pane_what_it_folded(cutover: Cutover) -> None:
    """The newest events reach the Journal pane from the fold (no second read and decode on the
    screen's loop), the same events the journal holds; older than that, from the journal."""
    from cutover_console.runbook.session import RECENT, WatchSession

    session = WatchSession(cutover.writer.path)
    try:
        first = session.state.head_seq
        for n in range(5):
            cutover.note(f"note {n}", "lena")
        assert [e.seq for e in session.poll()] == list(range(first + 1, first + 6))

        def no_reading(**_kwargs: Any) -> Any:
            raise AssertionError("read from the journal although the fold had it")

        with JournalReader(cutover.writer.path) as reader:
            expected = [e.payload for e in reader.events(after=first + 1)]
        real = session.reader.events
        session.reader.events = no_reading  # type: ignore[method-assign]
        handed = session.events_after(first + 1)
        assert [e.payload for e in handed] == expected
        session.reader.events = real  # type: ignore[method-assign]
        # before what the session holds: from the journal, at most RECENT
        older = session.events_after(0)
        assert older[0].seq == 1 and len(older) <= RECENT
    finally:
        session.close()
