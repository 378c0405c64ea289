"""The live report compares each step's time with the latest rehearsal of the same cutover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import SHIPPED, SMALL, finish_step, run_cli

from cutover_console.clock import ManualClock
from cutover_console.plan import load_plan
from cutover_console.report.rehearsal import find_latest
from cutover_console.runbook.actions import Cutover
from cutover_console.runbook.autopilot import owner_of
from cutover_console.service.lead import LeadSession

START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def walk(
    journal: Path, mode: str, stretch: dict[str, float], plan: Path = SMALL, day: int = 0
) -> None:
    """Every step in order, each taking its planned time times `stretch`."""
    clock = ManualClock(START - timedelta(days=day))
    session = LeadSession.open(journal, load_plan(plan), clock=clock, mode=mode)
    cutover: Cutover = session.cutover
    p = cutover.state.plan
    for step_id in cutover.state.schedule().order:
        step = p.step(step_id)
        if step.not_before is not None and clock.now() < step.not_before:
            clock.set(step.not_before)
        doer = owner_of(p, step).id
        cutover.start(step_id, doer)
        clock.advance(step.duration * stretch.get(step_id, 1.0))
        finish_step(cutover, step_id, doer, "unit test: no live evidence")
    session.close()


def test_live_report_names_the_steps_that_drifted_from_the_rehearsal(tmp_path: Path) -> None:
    older = tmp_path / "rehearsals" / "first.sqlite"
    older.parent.mkdir()
    walk(older, "rehearsal", {"backup": 5.0}, day=7)
    latest = tmp_path / "rehearsals" / "second.sqlite"
    walk(latest, "rehearsal", {}, day=2)
    walk(tmp_path / "other-cutover.sqlite", "rehearsal", {}, plan=SHIPPED)
    live = tmp_path / "live.sqlite"
    walk(live, "live", {"backup": 3.0, "verify-new": 1.1})
    assert find_latest(live, "small-cutover") == latest

    out = tmp_path / "report.md"
    done = run_cli("report", "--journal", str(live), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "comparing with rehearsal" in done.stdout
    text = out.read_text()
    section = text.split("## Live against rehearsal", 1)[1].split("\n## ", 1)[0]
    assert "second.sqlite" in section
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if "|" in line}
    assert "drift +200%" in rows["backup"] and "+1h" in rows["backup"]
    assert "drift" not in rows["verify-new"]  # 10 % longer: within tolerance
    assert "Steps off their rehearsed time" in section and "backup" in section

    # an explicit rehearsal wins; --no-rehearsal leaves the section out
    done = run_cli("report", "--journal", str(live), "-o", str(out), "--rehearsal", str(older))
    assert done.returncode == 0 and "first.sqlite" in out.read_text()
    assert "drift" not in out.read_text().split("| backup", 1)[1].split("\n", 1)[0]
    run_cli("report", "--journal", str(live), "-o", str(out), "--no-rehearsal")
    assert "Live against rehearsal" not in out.read_text()
    # a rehearsal of another cutover is refused by name
    wrong = run_cli(
        "report",
        "--journal",
        str(live),
        "-o",
        str(out),
        "--rehearsal",
        str(tmp_path / "other-cutover.sqlite"),
    )
    assert wrong.returncode == 2 and "collision-bi" in wrong.stderr
    # a rehearsal's own report compares with nothing
    rehearsal_report = tmp_path / "r.md"
    run_cli("report", "--journal", str(latest), "-o", str(rehearsal_report))
    assert "Live against rehearsal" not in rehearsal_report.read_text()
