"""Idempotency keys: a retry of a recorded command is answered with the original event, before any
rule; the same key for another command is refused, naming the event that holds it."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import SMALL, run_cli

from cutover_console.journal import Actor, IdempotencyConflict, Replayed
from cutover_console.runbook import ActionRefused, Cutover


def _refusal(exc: pytest.ExceptionInfo[ActionRefused]) -> str:
    assert [r.rule for r in exc.value.refusals] == ["idempotency"]
    return exc.value.refusals[0].message


def _start_backup(cutover: Cutover) -> None:
    cutover.start("freeze", "omar")
    cutover.complete("freeze", "omar")
    cutover.start("backup", "dmitri")


def test_retry_of_a_finished_step_is_the_original_event(cutover: Cutover) -> None:
    started = cutover.start("freeze", "omar", idem="s1")
    done = cutover.complete("freeze", "omar", idem="d1")
    count = cutover.writer.count()
    # the rules would now refuse both ("is done"), but these are retries
    again = cutover.start("freeze", "omar", idem="s1")
    assert isinstance(again, Replayed) and (again.seq, again.hash) == (started.seq, started.hash)
    again_done = cutover.complete("freeze", "omar", idem="d1")
    assert isinstance(again_done, Replayed) and again_done.seq == done.seq
    assert cutover.writer.count() == count
    assert cutover.state.steps["freeze"].status == "done"
    assert not isinstance(done, Replayed)  # the first answer is a new event


def test_retry_of_a_signoff_is_not_a_second_signature(cutover: Cutover) -> None:
    _start_backup(cutover)
    signed = cutover.signoff("backup", "ravi", idem="sig")
    assert cutover.signoff("backup", "ravi", idem="sig").seq == signed.seq
    role = signed.payload["role"]
    assert cutover.signoff("backup", "ravi", role=role, idem="sig").seq == signed.seq
    assert len(cutover.state.steps["backup"].signoffs) == 1
    with pytest.raises(ActionRefused) as other_role:
        cutover.signoff("backup", "ravi", role="lead", idem="sig")
    assert f"already holds event {signed.seq}" in _refusal(other_role)


@pytest.mark.parametrize(
    ("second", "differs"),
    [
        (lambda c: c.note("another text", "lena", idem="k"), "text"),
        (lambda c: c.note("bridge open", "nia", idem="k"), "person"),
        (lambda c: c.note("bridge open", "lena", step_id="freeze", idem="k"), "step"),
        (lambda c: c.start("freeze", "omar", idem="k"), "action"),
        (lambda c: c.skip("announce", "lena", "not needed", idem="k"), "action"),
    ],
)
def test_a_key_reused_for_another_command_is_refused(
    cutover: Cutover, second: object, differs: str
) -> None:
    held = cutover.note("bridge open", "lena", idem="k")
    count = cutover.writer.count()
    with pytest.raises(ActionRefused) as exc:
        second(cutover)  # type: ignore[operator]
    message = _refusal(exc)
    assert f"'k' already holds event {held.seq} (note.added by lena)" in message
    assert differs in message.split("differs in ", 1)[1]
    assert cutover.writer.count() == count


def test_reasons_and_gates_must_match(cutover: Cutover) -> None:
    cutover.start("freeze", "omar")
    failed = cutover.fail("freeze", "omar", "disk full", idem="f")
    assert cutover.fail("freeze", "omar", "  disk full ", idem="f").seq == failed.seq
    with pytest.raises(ActionRefused) as exc:
        cutover.fail("freeze", "omar", "network down", idem="f")
    assert "differs in reason" in _refusal(exc)
    gate = cutover.override_gate("dns-switch", "authority-new", "lena", "checked by hand", idem="g")
    assert cutover.override_gate("dns-switch", "authority-new", "lena", "checked by hand", idem="g")
    assert cutover.writer.count() == gate.seq
    with pytest.raises(ActionRefused):
        cutover.override_gate("dns-switch", "authority-new", "lena", "other reason", idem="g")


def test_override_reason_is_compared_only_when_one_was_recorded(cutover: Cutover) -> None:
    # backup waits for freeze: the lead overrides, and the reason is recorded
    event = cutover.start("backup", "lena", override="freeze is done on paper", idem="o")
    assert "override_reason" in event.payload
    assert cutover.start("backup", "lena", override="freeze is done on paper", idem="o").seq
    with pytest.raises(ActionRefused) as exc:
        cutover.start("backup", "lena", override="another reason", idem="o")
    assert "override reason" in _refusal(exc)
    # an override the first attempt did not need was not recorded: the retry still matches
    plain = cutover.start("freeze", "omar", override="just in case", idem="p")
    assert "override_reason" not in plain.payload
    assert cutover.start("freeze", "omar", override="just in case", idem="p").seq == plain.seq


def test_the_writer_refuses_a_key_holding_another_event(cutover: Cutover) -> None:
    writer = cutover.writer
    first = writer.append("note.added", {"text": "a"}, actor=Actor("lena", "t"), idem="w")
    again = writer.append("note.added", {"text": "a"}, actor=Actor("lena", "t"), idem="w")
    assert isinstance(again, Replayed) and again.seq == first.seq
    with pytest.raises(IdempotencyConflict) as exc:
        writer.append("note.added", {"text": "b"}, actor=Actor("lena", "t"), idem="w")
    assert exc.value.event.seq == first.seq and f"event {first.seq}" in str(exc.value)


def test_cli_answers_a_retry_and_refuses_a_reuse(tmp_path: Path) -> None:
    j = str(tmp_path / "j.sqlite")
    assert run_cli("init", str(SMALL), "--journal", j).returncode == 0
    args = ("step", "start", "freeze", "-j", j, "--by", "omar", "--idempotency-key", "k1")
    first = run_cli(*args)
    assert first.returncode == 0 and "journaled as event 2" in first.stdout
    assert run_cli("step", "done", "freeze", "-j", j, "--by", "omar").returncode == 0
    retry = run_cli(*args)
    assert retry.returncode == 0, retry.stderr
    assert "already recorded as event 2" in retry.stdout
    reuse = run_cli("note", "hello", "-j", j, "--by", "lena", "--idempotency-key", "k1")
    assert reuse.returncode == 1 and "already holds event 2" in reuse.stderr, reuse.stderr
    assert "Traceback" not in reuse.stderr
    events = run_cli("events", "-j", j).stdout.splitlines()
    assert len(events) == 3  # created, started, completed: nothing else
