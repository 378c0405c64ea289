"""The step lifecycle and its rules, through the real journal (ManualClock for time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support import SMALL

from cutover_console.clock import ManualClock
from cutover_console.journal import Actor, JournalReader, JournalWriter
from cutover_console.plan import load_plan, load_plan_text
from cutover_console.runbook import ActionRefused, Cutover, load_state, status_summary


def rules_of(exc: pytest.ExceptionInfo[ActionRefused]) -> set[str]:
    return {r.rule for r in exc.value.refusals}


def finish_backup(c: Cutover) -> None:
    c.start("freeze", "omar")
    c.complete("freeze", "omar")
    c.start("backup", "dmitri")
    c.signoff("backup", "dmitri")
    c.signoff("backup", "lena")
    c.complete("backup", "dmitri")


def test_dependency_blocks_start_until_done(cutover: Cutover) -> None:
    with pytest.raises(ActionRefused) as exc:
        cutover.start("backup", "dmitri")
    assert rules_of(exc) == {"dependency"}
    assert "waits for 'freeze'" in str(exc.value)
    cutover.start("freeze", "omar")
    with pytest.raises(ActionRefused):
        cutover.start("backup", "dmitri")  # in progress is not finished
    cutover.complete("freeze", "omar")
    cutover.start("backup", "dmitri")
    assert cutover.state.steps["backup"].status == "in_progress"


def test_not_before_refuses_until_the_time(cutover: Cutover, clock: ManualClock) -> None:
    finish_backup(cutover)
    with pytest.raises(ActionRefused) as exc:
        cutover.start("dns-switch", "nia")
    assert rules_of(exc) == {"not_before"}
    assert "Sun 06:00" in str(exc.value)
    clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))  # Sunday 06:00 Chicago
    cutover.start("dns-switch", "nia")


def test_signoff_rules(cutover: Cutover) -> None:
    cutover.start("freeze", "omar")
    cutover.complete("freeze", "omar")
    with pytest.raises(ActionRefused) as exc:
        cutover.signoff("backup", "lena")
    assert rules_of(exc) == {"transition"}  # sign-offs happen while the step runs
    cutover.start("backup", "dmitri")
    with pytest.raises(ActionRefused) as exc:
        cutover.signoff("backup", "cleo")
    assert rules_of(exc) == {"role"}
    with pytest.raises(ActionRefused) as exc:
        cutover.complete("backup", "dmitri")
    assert rules_of(exc) == {"signoff"}
    cutover.signoff("backup", "dmitri")  # the doer may sign when two are needed
    with pytest.raises(ActionRefused) as exc:
        cutover.signoff("backup", "dmitri")
    assert rules_of(exc) == {"duplicate"}
    with pytest.raises(ActionRefused):
        cutover.complete("backup", "dmitri")
    cutover.signoff("backup", "ravi", role="dba")
    cutover.complete("backup", "dmitri")
    signers = [s.person for s in cutover.state.steps["backup"].signoffs]
    assert signers == ["dmitri", "ravi"]


def test_self_approval_refused_for_single_signoff(cutover: Cutover, clock: ManualClock) -> None:
    finish_backup(cutover)
    clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    cutover.override_gate("dns-switch", "authority-new", "lena", "checked by hand with dig")
    cutover.start("dns-switch", "nia")
    cutover.signoff("dns-switch", "nia")
    cutover.signoff("dns-switch", "lena")
    cutover.complete("dns-switch", "nia")
    cutover.start("verify-new", "omar")
    cutover.override_gate("verify-new", "dns-propagated", "lena", "resolver pane not ready")
    cutover.complete("verify-new", "omar")
    cutover.start("announce", "lena")
    with pytest.raises(ActionRefused) as exc:
        cutover.signoff("announce", "lena")
    assert rules_of(exc) == {"self_approval"}
    cutover.signoff("announce", "cleo")
    cutover.complete("announce", "lena")


def test_gate_needs_evidence_then_passes(cutover: Cutover, clock: ManualClock) -> None:
    finish_backup(cutover)
    clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    cutover.start("dns-switch", "nia")
    cutover.signoff("dns-switch", "nia")
    cutover.signoff("dns-switch", "lena")
    with pytest.raises(ActionRefused) as exc:
        cutover.complete("dns-switch", "nia")
    assert rules_of(exc) == {"gate"} and "no evidence yet" in str(exc.value)
    cutover.record_gate("dns-switch", "authority-new", False, "ns1 still serves 198.51.100.10", {})
    with pytest.raises(ActionRefused) as exc:
        cutover.complete("dns-switch", "nia")
    assert "ns1 still serves" in str(exc.value)
    event = cutover.record_gate("dns-switch", "authority-new", True, "all NS serve new", {"ns": 2})
    assert event is not None
    # unchanged evidence is not journaled again
    assert cutover.record_gate("dns-switch", "authority-new", True, "all NS serve new", {}) is None
    cutover.complete("dns-switch", "nia")
    assert cutover.state.point_of_no_return_at is not None


def test_signoff_freezes_the_evidence_seen(cutover: Cutover, clock: ManualClock) -> None:
    finish_backup(cutover)
    clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    cutover.start("dns-switch", "nia")
    cutover.record_gate("dns-switch", "authority-new", True, "all NS serve new", {"serial": 7})
    event = cutover.signoff("dns-switch", "lena")
    assert event.payload["evidence"]["authority-new"]["ok"] is True
    assert event.payload["evidence"]["authority-new"]["evidence"] == {"serial": 7}


def test_override_is_lead_only_needs_reason_and_is_kept(cutover: Cutover) -> None:
    with pytest.raises(ActionRefused) as exc:
        cutover.start("backup", "dmitri", override="hurry")
    assert "only a lead may override" in str(exc.value)
    with pytest.raises(ActionRefused) as exc:
        cutover.start("backup", "lena", override="  ")
    assert rules_of(exc) == {"override"}
    event = cutover.start("backup", "lena", override="freeze done by phone, journal later")
    assert event.payload["overrides"][0].startswith("dependency:")
    assert event.payload["override_reason"] == "freeze done by phone, journal later"
    assert len(cutover.state.overrides) == 1
    # the mark survives a reload from the journal
    assert len(load_state(cutover.writer).overrides) == 1


def test_absolute_refusals_cannot_be_overridden(cutover: Cutover) -> None:
    cutover.start("freeze", "omar")
    cutover.complete("freeze", "omar")
    cutover.start("backup", "dmitri")
    with pytest.raises(ActionRefused) as exc:
        cutover.start("backup", "lena", override="again")
    assert rules_of(exc) == {"transition"}
    with pytest.raises(ActionRefused) as exc:
        cutover.start("announce", "nobody", override="x")
    assert rules_of(exc) == {"person"}
    with pytest.raises(ActionRefused) as exc:
        cutover.start("verify-new", "cleo", override="x")
    assert "owner" in rules_of(exc)


def test_skip_and_fail_need_reasons(cutover: Cutover) -> None:
    with pytest.raises(ActionRefused) as exc:
        cutover.skip("freeze", "omar", "")
    assert rules_of(exc) == {"reason"}
    cutover.skip("freeze", "omar", "no deployments scheduled this month")
    assert cutover.state.steps["freeze"].status == "skipped"
    cutover.start("backup", "dmitri")  # skipped counts as finished for dependants
    with pytest.raises(ActionRefused):
        cutover.fail("backup", "dmitri", None)
    cutover.fail("backup", "dmitri", "disk full")
    step = cutover.state.steps["backup"]
    assert (step.status, step.reason) == ("failed", "disk full")


def test_reopen_clears_signoffs_but_keeps_history(cutover: Cutover) -> None:
    finish_backup(cutover)
    cutover.reopen("backup", "lena", "restore test failed; redo")
    step = cutover.state.steps["backup"]
    assert step.status == "pending" and step.signoffs == []
    assert [s.person for s in step.earlier_signoffs] == ["dmitri", "lena"]
    cutover.start("backup", "dmitri")
    assert cutover.state.steps["backup"].attempt == 2


def test_rollback_after_point_of_no_return_needs_override(
    cutover: Cutover, clock: ManualClock
) -> None:
    finish_backup(cutover)
    clock.set(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    cutover.start("dns-switch", "nia")
    cutover.rollback("dns-switch", "nia", "authority refused the change")  # before PONR: fine
    cutover.reopen("dns-switch", "lena", "retry")
    cutover.start("dns-switch", "nia")
    cutover.override_gate("dns-switch", "authority-new", "lena", "verified by hand")
    cutover.signoff("dns-switch", "nia")
    cutover.signoff("dns-switch", "lena")
    cutover.complete("dns-switch", "nia")
    with pytest.raises(ActionRefused) as exc:
        cutover.rollback("dns-switch", "nia", "customers complain")
    assert rules_of(exc) == {"point_of_no_return"}
    cutover.rollback("dns-switch", "lena", "customers complain", override="client asked for it")
    assert cutover.state.steps["dns-switch"].status == "rolled_back"


def test_idempotency_key_records_once(cutover: Cutover) -> None:
    first = cutover.note("bridge call started", "lena", idem="note-1")
    again = cutover.note("bridge call started", "lena", idem="note-1")
    assert first.seq == again.seq and first.hash == again.hash
    assert cutover.writer.count() == 2
    assert len(cutover.state.notes) == 1


def test_resume_after_restart_is_exact(cutover: Cutover, journal_path, clock) -> None:
    finish_backup(cutover)
    cutover.note("all good", "lena", step_id="backup")
    before = status_summary(cutover.state, clock.now())
    cutover.writer.close()
    writer = JournalWriter.open(journal_path, clock=clock)
    try:
        resumed = Cutover(writer, clock)
        assert status_summary(resumed.state, clock.now()) == before
        assert resumed.state.recoveries == []  # a clean close is not a crash
    finally:
        writer.close()
        cutover.writer = JournalWriter.open(journal_path, clock=clock)


def test_plan_revision_is_recorded_and_used(cutover: Cutover) -> None:
    text = SMALL.read_text().replace("duration: 45m", "duration: 1h15m")
    revised = load_plan_text(text, "small.yaml")
    assert cutover.revise_plan(load_plan(SMALL), "lena", "no change") is None
    event = cutover.revise_plan(revised, "lena", "final tests take longer")
    assert event is not None and event.kind == "plan.revised"
    assert cutover.state.plan.step("verify-new").duration == timedelta(hours=1, minutes=15)
    reloaded = load_state(JournalReader(cutover.writer.path))
    assert reloaded.document.sha256 == revised.sha256
    assert reloaded.revisions[0]["reason"] == "final tests take longer"


def test_status_forecast_and_ponr(cutover: Cutover, clock: ManualClock) -> None:
    summary = status_summary(cutover.state, clock.now())
    assert summary["progress"] == {"finished": 0, "total": 5, "in_progress": []}
    assert summary["point_of_no_return"]["rollback_possible_until"].startswith("2026-12-06T06:00")
    assert summary["critical_path"] == ["dns-switch", "verify-new", "announce"]
    # Late on Sunday with nothing done: the forecast moves past the window.
    clock.set(datetime(2026, 12, 7, 3, 30, tzinfo=UTC))  # Sun 21:30 Chicago
    late = status_summary(cutover.state, clock.now())
    assert late["fits_window"] is False
    backup = next(s for s in late["steps"] if s["id"] == "backup")
    assert backup["delay_s"] > 0 and backup["blockers"] == ["waits for 'freeze' (pending)"]


def test_overrun_flag(cutover: Cutover, clock: ManualClock) -> None:
    cutover.start("freeze", "omar")
    clock.advance(timedelta(minutes=16))
    freeze = next(
        s for s in status_summary(cutover.state, clock.now())["steps"] if s["id"] == "freeze"
    )
    assert freeze["overrun"] is True


def test_each_role_needs_every_listed_role(journal_path, clock) -> None:  # type: ignore[no-untyped-def]
    text = SMALL.read_text().replace(
        "signoff: {roles: [dba, lead], count: 2}",
        "signoff: {roles: [dba, lead], count: 2, each_role: true}",
    )
    document = load_plan_text(text, "small.yaml")
    writer = JournalWriter.create(
        journal_path.with_name("each.sqlite"),
        document.text,
        document.sha256,
        document.file,
        Actor.here("lena"),
        cutover_id="small-cutover",
        clock=clock,
    )
    try:
        c = Cutover(writer, clock)
        c.start("freeze", "omar")
        c.complete("freeze", "omar")
        c.start("backup", "dmitri")
        c.signoff("backup", "dmitri")
        with pytest.raises(ActionRefused) as exc:
            c.signoff("backup", "ravi")  # a second dba cannot stand in for the lead
        assert "still needs lead" in str(exc.value)
        c.signoff("backup", "lena")
        c.complete("backup", "dmitri")
    finally:
        writer.close()


def test_old_event_versions_are_upgraded_on_read(cutover: Cutover) -> None:
    from cutover_console.journal import events as ev

    event = cutover.note("v1 note", "lena")
    assert event.v == 1

    @ev.register_upgrader("note.added", 1)
    def _v1_to_v2(payload: dict) -> dict:  # type: ignore[type-arg]
        return {**payload, "text": payload["text"].upper(), "format": "markdown"}

    try:
        read = next(iter(JournalReader(cutover.writer.path).events(after=event.seq - 1)))
        assert read.v == 2 and read.payload == {"text": "V1 NOTE", "format": "markdown"}
        assert JournalReader(cutover.writer.path).verify().ok  # the stored v1 row is untouched
    finally:
        ev._UPGRADERS.pop(("note.added", 1))


def test_a_note_to_all_leaves_the_steps_version_alone(cutover: Cutover) -> None:
    """The console re-renders the checklist, the step detail and the forecast when
    `runbook_version` moves: a note to all (or a watcher arriving) changes none of them, and
    twenty SSH watchers re-rendered all of it for every teammate's note (issue 21). A note on
    a step is in that step's detail: it moves the version."""
    version = cutover.state.runbook_version
    cutover.note("bridge call started", "lena")
    assert cutover.state.runbook_version == version
    assert [n.text for n in cutover.state.notes] == ["bridge call started"]
    cutover.note("backup looks slow", "lena", step_id="backup")
    assert cutover.state.runbook_version == version + 1
    assert [n.text for n in cutover.state.steps["backup"].notes] == ["backup looks slow"]
