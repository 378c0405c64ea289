"""The Comms pane and the lead's send dialog (issue 22), driven through Textual's Pilot on a
real journal: key 5 shows it, an update is sent only after its preview (Cancel the default), a
`kind: comms` step shows what it sends before it is completed, watchers see it read-only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from commsbed import drive
from support import PLANS
from test_console import goto, pick, until

from cutover_console.clock import ManualClock
from cutover_console.journal import JournalReader
from cutover_console.plan import load_plan
from cutover_console.runbook import Cutover
from cutover_console.runbook.session import WatchSession
from cutover_console.service.lead import LeadSession, create_journal
from cutover_console.ui.app import LeadApp, WatchApp
from cutover_console.ui.dialogs import ConfirmDialog, Picker
from cutover_console.ui.table import KeyedTable
from cutover_console.ui.views.comms import CommsPane

PLAN = PLANS / "comms.yaml"
SATURDAY = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _channels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMMS_TEST_MAIL", "mailto://127.0.0.1:1?from=a@ops.test&to=b@c.test")
    monkeypatch.setenv("COMMS_TEST_HOOK", "json://127.0.0.1:1/hook")


def queued(journal: Path) -> int:
    with JournalReader(journal) as reader:
        return sum(1 for e in reader.events() if e.kind == "comms.queued")


def cells(app: LeadApp | WatchApp, table: str) -> str:
    found = app.query_one(f"#{table}", KeyedTable)
    return " ".join(str(c) for row in range(found.row_count) for c in found.get_row_at(row))


def test_the_lead_sends_after_a_preview_and_the_pane_shows_each_target(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    clock = ManualClock(SATURDAY)
    app = LeadApp(LeadSession.open(journal, load_plan(PLAN), clock=clock), engines=False,
                  clock=clock.now)  # fmt: skip

    async def scenario() -> None:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.press("5")
            await pilot.pause(0.2)
            assert app.query_one("#panes").active == "comms"  # type: ignore[attr-defined]
            assert "Client managers" in cells(app, "comms-audiences")
            await goto(pilot, app, "gng")
            await pilot.press("s")
            await pilot.pause(0.3)
            await pilot.press("c")
            await until(pilot, lambda: "Go/no-go decided: GO" in cells(app, "comms-messages")
                        or "queued" in cells(app, "comms-messages"))  # fmt: skip
            assert queued(journal) == 2  # the outbox, with the decision
            assert "env:COMMS_TEST_MAIL" in cells(app, "comms-messages")
            # send now: preview first, and Enter cancels
            await pilot.press("u")
            await until(pilot, lambda: isinstance(app.screen, Picker))
            await pick(pilot, app, "t:status")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert "Subject: Comms test cutover: Update from the lead" in app.screen.body  # type: ignore[attr-defined]
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert queued(journal) == 2
            await pilot.press("u")
            await until(pilot, lambda: isinstance(app.screen, Picker))
            await pick(pilot, app, "t:status")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await until(pilot, lambda: queued(journal) == 4)
            # a kind: comms step shows what it sends; Cancel leaves it running
            await goto(pilot, app, "switch")
            await pilot.press("s")
            await pilot.pause(0.3)
            await pilot.press("c")
            await pilot.pause(0.3)
            await goto(pilot, app, "tell")
            await pilot.press("s")
            await pilot.pause(0.3)
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert "Complete tell and send this?" in app.screen.title_text  # type: ignore[attr-defined]
            # the text the step's completion queues: its own trigger (the step), not the lead's
            assert "Subject: Comms test cutover: Tell the client" in app.screen.body  # type: ignore[attr-defined]
            await pilot.press("escape")
            await pilot.pause(0.3)
            assert app.session.state.steps["tell"].status == "in_progress"
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await until(pilot, lambda: app.session.state.steps["tell"].status == "done")
            assert queued(journal) == 5  # the step's own update, to the client

    asyncio.run(scenario())
    app.session.close()


def test_watchers_see_the_comms_pane_read_only(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    clock = ManualClock(SATURDAY)
    lead = LeadSession.open(journal, load_plan(PLAN), clock=clock)
    lead.cutover.start("gng", "lena")
    lead.cutover.complete("gng", "lena")
    lead.close()
    app = WatchApp(WatchSession(journal))

    async def scenario() -> None:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.press("5")
            await pilot.pause(0.3)
            assert "support" in cells(app, "comms-messages")
            assert app.query_one(CommsPane).send_hint == ""
            await pilot.press("u")
            await pilot.pause(0.3)
            assert not isinstance(app.screen, Picker)
        assert queued(journal) == 2

    asyncio.run(scenario())


def test_a_late_every_update_shows_overdue_in_the_clock_bar(tmp_path: Path) -> None:
    """An hourly update that never got through (its webhook refuses connections): once the
    hour and its grace have passed, the comms engine journals comms.overdue, and the clock bar
    of the lead and of a watcher says which audience waits, and since when."""
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        PLAN.read_text().replace(
            "  updates:\n",
            "  updates:\n    - {id: hourly, every: 1h, grace: 5m, audiences: [support], "
            "template: status}\n",
        )
    )
    journal = tmp_path / "j.sqlite"
    clock = ManualClock(SATURDAY)  # the window opened at 06:00: 07:05 was the deadline
    cutover = Cutover(create_journal(journal, load_plan(plan), clock=clock), clock)
    try:  # the real comms engine, as the journal service runs it
        drive(cutover, lambda ledger: bool(ledger.overdue), timeout=10, clock=clock)
    finally:
        cutover.writer.close()
    with JournalReader(journal) as reader:
        assert [e.payload["audience"] for e in reader.events() if e.kind == "comms.overdue"] == [
            "support"
        ]

    async def clock_bar(app: LeadApp | WatchApp) -> str:
        async with app.run_test(size=(200, 45)) as pilot:
            await pilot.pause(0.3)
            return str(app.query_one("#clock").render())

    lead = LeadApp(LeadSession.open(journal, clock=clock), engines=False, clock=clock.now)
    shown = asyncio.run(clock_bar(lead))
    lead.session.close()
    assert "UPDATE OVERDUE to support (nothing since 3h ago)" in shown, shown
    watcher = WatchApp(WatchSession(journal), clock=clock.now)
    shown = asyncio.run(clock_bar(watcher))
    watcher.session.close()
    assert "UPDATE OVERDUE to support" in shown, shown
