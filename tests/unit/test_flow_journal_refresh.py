"""Flows journal a status change at once, and the newest arrival again once it has moved far enough
(a minute per flow side, five per site), so 'last seen' on every screen stays honest."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import SMALL

from cutover_console.clock import ManualClock
from cutover_console.heartbeats.flows import FlowMonitor
from cutover_console.heartbeats.journaling import FlowJournal
from cutover_console.plan import load_plan_text
from cutover_console.service.lead import LeadSession

START = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
FLOWS = """
flows:
  - id: uploads
    title: Uploads
    system: wcf
    late_after: 30m
    sites: true
    old:
      kind: sqlite
      path: old.db
      query: SELECT site, MAX(at), COUNT(*) FROM uploads GROUP BY site
"""


def test_last_seen_is_journaled_again_once_it_moved(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    db.execute("CREATE TABLE uploads (site TEXT, at TEXT)")

    def upload(site: str, when: datetime) -> None:
        db.execute("INSERT INTO uploads VALUES (?, ?)", (site, f"{when:%Y-%m-%d %H:%M:%S}"))

    document = load_plan_text(SMALL.read_text() + FLOWS, "plan.yaml")
    clock = ManualClock(START)
    session = LeadSession.open(tmp_path / "j.sqlite", document, clock=clock)
    monitor = FlowMonitor(session.state.plan, clock, base=tmp_path)  # relative path: the base
    journal = FlowJournal(session.cutover)

    def step(minutes: float) -> list[tuple[str, dict[str, object]]]:
        clock.advance(timedelta(minutes=minutes))
        upload("shop-1", clock.now())
        asyncio.run(monitor.poll_all())
        pending = journal.collect(monitor)
        journal.write(pending)
        return [(kind, payload) for kind, payload, _actor, _step in pending.events]

    first = step(0)
    assert [k for k, _ in first] == ["flow.state", "flow.site"]
    assert step(0.5) == []  # same status, arrival moved 30 s: nothing to write
    again = step(0.6)  # 66 s since the journaled arrival: the flow side is written again
    assert [k for k, _ in again] == ["flow.state"]
    assert again[0][1]["last_seen"] != first[0][1]["last_seen"]
    for _ in range(3):
        step(1.1)
    site = step(1.1)  # more than five minutes since the site's journaled arrival
    assert ("flow.site" in [k for k, _ in site]) and ("flow.state" in [k for k, _ in site])
    session.close()

    # a restarted lead remembers what was journaled (no burst of repeats)
    session = LeadSession.open(tmp_path / "j.sqlite", clock=clock)
    journal = FlowJournal(session.cutover)
    assert journal.collect(monitor).events == []
    session.close()
