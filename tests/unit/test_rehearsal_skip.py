"""The rehearsal world skips a night where nothing is planned, and nothing else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from support import finish_step

from cutover_console.clock import ScaledClock
from cutover_console.plan import load_plan
from cutover_console.rehearsal.demo import demo_plan_path, skip_idle
from cutover_console.runbook.autopilot import owner_of
from cutover_console.service.lead import LeadSession


def test_the_night_between_day_one_and_two_is_skipped(tmp_path: Path) -> None:
    document = load_plan(demo_plan_path())
    plan = document.plan
    clock = ScaledClock(plan.cutover.window.start, 1)
    session = LeadSession.open(tmp_path / "j.sqlite", document, clock=clock, mode="rehearsal")
    cutover = session.cutover
    assert skip_idle(session, clock) is None  # kickoff can start now: the lead's move
    day_one = [s for s in cutover.state.schedule().order if plan.step(s).phase == "day1"]
    for step_id in day_one:
        step = plan.step(step_id)
        doer = owner_of(plan, step).id
        cutover.start(step_id, doer)
        assert skip_idle(session, clock) is None  # a step is running
        finish_step(cutover, step_id, doer, "unit test: no world here")
    before = clock.now()
    said = skip_idle(session, clock)
    go = plan.step("go-no-go").not_before
    assert go is not None and said is not None and "skips" in said
    assert go - timedelta(minutes=1) <= clock.now() < go  # a minute before Sunday 06:00
    assert clock.skipped > timedelta(hours=11) and clock.now() - before > timedelta(hours=11)
    assert skip_idle(session, clock) is None  # under 20 minutes to go: lived, not skipped
    session.close()
