"""Snapshots of the main screens (pytest-textual-snapshot). Update deliberately with
`pytest tests/ui/test_snapshots.py --snapshot-update` after a reviewed UI change."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import SMALL

from cutover_console.clock import ManualClock
from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan
from cutover_console.runbook import Cutover
from cutover_console.runbook.session import WatchSession
from cutover_console.service.lead import LeadSession
from cutover_console.ui.app import LeadApp, WatchApp

T0 = datetime(2026, 12, 6, 12, 40, tzinfo=UTC)  # Sunday 06:40 in Chicago


@pytest.fixture(autouse=True)
def utc_local_time() -> Iterator[None]:
    """The clock bar shows local time too: make it the same on every machine."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = before
    time.tzset()


def mid_cutover(path: Path) -> ManualClock:
    """A journal as it stands on Sunday morning: Saturday done, the DNS switch running."""
    clock = ManualClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    document = load_plan(SMALL)
    writer = JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor("lena", "ops"),
        cutover_id="small-cutover",
        clock=clock,
    )
    cutover = Cutover(writer, clock)
    for step, who, signers in (("freeze", "omar", ()), ("backup", "dmitri", ("dmitri", "ravi"))):
        clock.advance(timedelta(minutes=20))
        cutover.start(step, who)
        for person in signers:
            cutover.signoff(step, person)
        clock.advance(timedelta(minutes=25))
        cutover.complete(step, who)
    clock.set(datetime(2026, 12, 6, 12, 5, tzinfo=UTC))
    cutover.start("dns-switch", "nia")
    cutover.record_gate("dns-switch", "authority-new", False, "ns2 still serves serial 41", {})
    cutover.signoff("dns-switch", "lena")
    cutover.note("Bridge call open; client observer joined.", "lena")
    writer.close()
    clock.set(T0)
    return clock


def test_lead_main_screen(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    journal = tmp_path / "j.sqlite"
    clock = mid_cutover(journal)
    session = LeadSession.open(journal, clock=clock)
    app = LeadApp(session, engines=False, clock=clock.now)

    async def focus_switch(pilot):  # type: ignore[no-untyped-def]
        await pilot.pause()  # the checklist fills once laid out (its width picks the columns)
        table = app.query_one("#steps")
        table.move_cursor(row=2)
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=(140, 40), run_before=focus_switch)
    finally:
        session.close()


def test_journal_pane_and_help(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    journal = tmp_path / "j.sqlite"
    clock = mid_cutover(journal)
    session = LeadSession.open(journal, clock=clock)
    app = LeadApp(session, engines=False, clock=clock.now)
    try:
        assert snap_compare(app, terminal_size=(120, 36), press=["4"])
    finally:
        session.close()


def test_watch_at_minimum_size(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    journal = tmp_path / "j.sqlite"
    clock = mid_cutover(journal)
    session = WatchSession(journal)
    app = WatchApp(session, clock=clock.now)
    try:
        assert snap_compare(app, terminal_size=(100, 30))
    finally:
        session.close()
