"""Issue 11's flood: 20 log lines of 1 MB arrive at once while the lead presses keys. Reports
the slowest key press (Pilot, press to processed) with the flood and without it, side by side in
the same process, medians of several rounds. Target: every key answers within 1 s."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support import SMALL  # noqa: E402

from cutover_console.clock import ManualClock  # noqa: E402
from cutover_console.plan import load_plan  # noqa: E402
from cutover_console.service.lead import LeadSession  # noqa: E402
from cutover_console.ui.app import LeadApp  # noqa: E402

AT = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


def slowest_press(flood: bool) -> float:
    journal = Path(tempfile.mkdtemp()) / "j.sqlite"
    clock = ManualClock(AT)
    session = LeadSession.open(journal, load_plan(SMALL), clock=clock)
    app = LeadApp(session, engines=False, clock=clock.now)
    rows = [(AT.isoformat(), "app", "old", "ERROR", f"{i} " + "x" * 1_000_000) for i in range(20)]
    worst = 0.0

    async def scenario() -> None:
        nonlocal worst
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.press("3")
            if flood:
                await session.act(lambda c: c.writer.append_log_lines(rows))
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                start = time.monotonic()
                await pilot.press("t")
                worst = max(worst, time.monotonic() - start)

    try:
        asyncio.run(scenario())
    finally:
        session.close()
    return worst


def main() -> None:
    quiet, flooded = [], []
    for _ in range(3):
        quiet.append(slowest_press(False))
        flooded.append(slowest_press(True))
    q, f = statistics.median(quiet), statistics.median(flooded)
    print(f"slowest key press, 3 s of presses: no flood {q * 1000:.0f} ms, "
          f"20 x 1 MB lines {f * 1000:.0f} ms (median of 3; target < 1000 ms)")


if __name__ == "__main__":
    main()
