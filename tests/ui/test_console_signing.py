"""`g` for the person at the keyboard, signed with their own SSH key, through the real app
(Pilot) on a real journal; and what the step detail shows while a signature is still needed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from signing import keygen, signed_plan

from cutover_console.clock import ManualClock
from cutover_console.plan import load_plan
from cutover_console.service.lead import LeadSession
from cutover_console.ui.app import LeadApp
from cutover_console.ui.dialogs import Picker, ReasonDialog
from cutover_console.ui.views import StepDetail

pytestmark = pytest.mark.filterwarnings("ignore:DSA is deprecated")
SATURDAY = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


def test_g_signs_with_the_keyboard_persons_key_and_shows_signed(tmp_path: Path) -> None:
    keys = {"cleo": keygen(tmp_path / "k", "cleo"), "nia": keygen(tmp_path / "k", "nia")}
    plan = load_plan(signed_plan(tmp_path, keys))
    clock = ManualClock(SATURDAY)
    session = LeadSession.open(tmp_path / "j.sqlite", plan, clock=clock)
    app = LeadApp(session, engines=False, clock=clock.now, operator="cleo")

    def detail() -> str:
        return str(app.query_one(StepDetail)._last)  # type: ignore[attr-defined]

    async def scenario() -> None:
        async with app.run_test(size=(150, 45)) as pilot:
            await app.lead_session.act(lambda c: c.start("go", "nia", override="test"))
            table = app.query_one("#steps")
            table.move_cursor(row=[str(r.value) for r in table.rows].index("go"))
            await pilot.pause(0.3)
            text = detail()
            assert "needs a signature with the signer's own SSH key" in text
            assert "cutover signoff go --by cleo --sign-with" in text
            await pilot.press("g")
            await pilot.pause(0.3)
            picker = app.screen
            assert isinstance(picker, Picker)
            options = picker.query_one("#people")
            ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
            options.highlighted = ids.index("cleo")
            await pilot.press("enter")
            await pilot.pause(0.3)
            assert isinstance(app.screen, ReasonDialog)
            await pilot.press(*str(keys["cleo"].private))
            await pilot.press("enter")
            for _ in range(100):
                await pilot.pause(0.1)
                if app.session.state.steps["go"].signoffs:
                    break
            [signed] = app.session.state.steps["go"].signoffs
            assert signed.person == "cleo" and signed.key.startswith("SHA256:")
            await pilot.pause(0.3)
            text = detail()
            assert f"· signed · {signed.key}" in text

    try:
        asyncio.run(scenario())
    finally:
        session.close()


def test_watchers_see_whose_signature_is_still_needed(tmp_path: Path) -> None:
    from cutover_console.journal import Actor, JournalWriter
    from cutover_console.runbook import Cutover
    from cutover_console.runbook.session import WatchSession
    from cutover_console.ui.app import WatchApp

    keys = {"cleo": keygen(tmp_path / "k", "cleo")}
    document = load_plan(signed_plan(tmp_path, keys))
    journal = tmp_path / "j.sqlite"
    clock = ManualClock(SATURDAY)
    writer = JournalWriter.create(
        journal,
        document.text,
        document.sha256,
        document.file,
        Actor.here("lena"),
        cutover_id=document.plan.cutover.id,
        clock=clock,
        plan_keys=document.keys,
    )
    Cutover(writer, clock).start("go", "nia", override="test")
    writer.close()
    session = WatchSession(journal)
    app = WatchApp(session)

    async def scenario() -> None:
        async with app.run_test(size=(150, 45)) as pilot:
            table = app.query_one("#steps")
            table.move_cursor(row=[str(r.value) for r in table.rows].index("go"))
            await pilot.pause(0.5)
            text = str(app.query_one(StepDetail)._last)  # type: ignore[attr-defined]
            assert "needs a signature with the signer's own SSH key" in text
            assert "cutover signoff go --by cleo --sign-with" in text

    asyncio.run(scenario())
