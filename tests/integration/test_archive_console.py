"""The witness beside the lead's console (issue 13): the publisher runs as an engine of a real
LeadApp (driven with Textual's pilot), publishes a signed checkpoint at the lead's decision
while the screen keeps answering keys, and what it published is journaled; an unreachable
witness shows as a fault and never blocks a key press."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from s3bed import S3Bed, aws_env, s3
from servers import free_port
from support import SMALL

from cutover_console.archive import engine as archive_engine
from cutover_console.archive.location import ArchiveLocation
from cutover_console.archive.settings import ArchiveSettings
from cutover_console.clock import ManualClock
from cutover_console.journal import JournalReader
from cutover_console.journal import events as ev
from cutover_console.plan import load_plan
from cutover_console.service import engines
from cutover_console.service.lead import LeadSession
from cutover_console.ui.app import LeadApp

pytestmark = pytest.mark.integration
__all__ = ["aws_env", "s3"]

SATURDAY = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


def _app(tmp_path: Path, where: str, monkeypatch: pytest.MonkeyPatch) -> LeadApp:
    """The lead's console on the small plan with the witness as its only engine (the DNS engine
    would ask public resolvers)."""
    monkeypatch.setattr(engines, "ENGINES", {"archive": engines.archive_engine})
    document = load_plan(SMALL)
    journal = tmp_path / "j.sqlite"
    settings = ArchiveSettings(ArchiveLocation.parse(where))
    archive_engine.configure(journal, settings, tmp_path / "state" / "export_signing_key")
    clock = ManualClock(SATURDAY)
    session = LeadSession.open(journal, document, clock=clock)
    return LeadApp(session, engines=True, clock=clock.now)


async def _until(pilot, condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.1)
    assert condition()


def _kinds(journal: Path) -> list[tuple[int, str]]:
    with JournalReader(journal) as reader:
        return [(e.seq, e.kind) for e in reader.events()]


def test_the_console_publishes_a_checkpoint_at_the_leads_decision(
    tmp_path: Path, aws_env: S3Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = aws_env.bucket()
    app = _app(tmp_path, f"s3://{bucket}/console", monkeypatch)
    journal = app.lead_session.writer.path
    latencies: list[float] = []

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            started = app.lead_session.state
            await _until(pilot, lambda: started.archive.latest_seq >= 1)  # journal.created
            table = app.query_one("#steps")
            table.move_cursor(row=[str(r.value) for r in table.rows].index("freeze"))
            await pilot.pause()
            before = time.monotonic()
            await pilot.press("s")
            latencies.append(time.monotonic() - before)
            await _until(pilot, lambda: started.steps["freeze"].status == "in_progress")
            start_seq = max(s for s, k in _kinds(journal) if k == ev.STEP_STARTED)
            await _until(pilot, lambda: started.archive.latest_seq >= start_seq)
            status = archive_engine.publisher(journal)
            assert status is not None and status.status.line().startswith("witness ok")
            # the clock bar and the journal pane say so
            await pilot.pause(1.2)  # the clock bar's next tick
            clock_bar = str(app.query_one("#clock").render())
            assert "witness ok" in clock_bar and "lag" in clock_bar
            await pilot.press("4")  # the Journal pane, shown: it draws what came while hidden
            await pilot.pause(0.3)
            pane = str(app.query_one("#journal-witness").render())
            assert f"witness s3://{bucket}/console: events archived to" in pane

    asyncio.run(scenario())
    app.lead_session.close()
    keys = aws_env.keys(bucket, "console")
    start_seq = max(s for s, k in _kinds(journal) if k == ev.STEP_STARTED)
    assert f"checkpoints/{start_seq:012d}.txt" in keys
    assert any(k.startswith("segments/000000000001-") for k in keys)
    assert ev.ARCHIVE_PUBLISHED in {k for _s, k in _kinds(journal)}
    assert latencies[0] < 1.0


def test_an_unreachable_witness_is_a_fault_in_the_console_and_keys_still_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{free_port()}",
    }.items():
        monkeypatch.setenv(name, value)
    app = _app(tmp_path, "s3://nowhere-witness/console", monkeypatch)
    journal = app.lead_session.writer.path

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            state = app.lead_session.state
            await _until(pilot, lambda: state.archive.fault == "unreachable")
            table = app.query_one("#steps")
            table.move_cursor(row=[str(r.value) for r in table.rows].index("freeze"))
            await pilot.pause()
            before = time.monotonic()
            await pilot.press("s")
            await _until(pilot, lambda: state.steps["freeze"].status == "in_progress", 5)
            assert time.monotonic() - before < 3.0
            found = archive_engine.publisher(journal)
            assert found is not None and "FAULT" in found.status.line()
            await pilot.pause(1.2)
            assert "witness FAULT S3 endpoint unreachable" in str(app.query_one("#clock").render())

    asyncio.run(scenario())
    app.lead_session.close()
    faults = [k for _s, k in _kinds(journal) if k == ev.ARCHIVE_FAULT]
    assert faults == [ev.ARCHIVE_FAULT]
