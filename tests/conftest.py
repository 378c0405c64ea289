"""Shared fixtures: a manual clock, a journal on the small plan, a Cutover driving it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import SMALL, in_ci

from cutover_console.clock import ManualClock
from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan
from cutover_console.runbook import Cutover


@pytest.fixture
def clock() -> ManualClock:
    # Saturday 2026-12-05 07:00 in Chicago (13:00 UTC): inside the small plan's window.
    return ManualClock(datetime(2026, 12, 5, 13, 0, tzinfo=UTC))


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "cutover.sqlite"


@pytest.fixture
def cutover(journal_path: Path, clock: ManualClock) -> Iterator[Cutover]:
    document = load_plan(SMALL)
    writer = JournalWriter.create(
        journal_path,
        document.text,
        document.sha256,
        document.file,
        Actor.here("lena"),
        cutover_id=document.plan.cutover.id,
        clock=clock,
    )
    try:
        yield Cutover(writer, clock)
    finally:
        writer.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI=true a skip is a failure: a missing component must not pass silently."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (not allowed): {report.longrepr}"
