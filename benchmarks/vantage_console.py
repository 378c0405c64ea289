"""The console's key presses while vantage rounds land (issue 24).

A watcher's console (`WatchSession` + `WatchApp`, headless with Pilot, the DNS pane with its
vantage view showing) follows a journal that another process writes, as the journal service
does: every 2 s a round of 500 Globalping probe results goes through the real path (parsed,
classified and folded by `VantageMonitor`, journaled as changes by `VantageJournal`: half the
probes flip every round, so each round journals 500 changes). That is far more often than any
real cadence (minutes): a worst case. Key presses (down/up on the checklist, measured until the
cursor moved and the next frame rendered) with no rounds and then under rounds, in the same run:
p95 of 40 each. Target: p95 under rounds <= 1.2x p95 without, medians of RUNS runs.

`python benchmarks/vantage_console.py [RUNS]` (default 3).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from console import p95
from support import ROOT
from textual import events
from textual.widgets import DataTable
from vantage import START, plan_text

from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan_text
from cutover_console.runbook.session import WatchSession
from cutover_console.ui.app import WatchApp

WRITER = """
import sys, time, os
sys.path.insert(0, {bench!r}); sys.path.insert(0, {tests!r})
os.environ["GP_BENCH_TOKEN"] = "bench-token-not-sent"
from vantage import results
from cutover_console.clock import SystemClock
from cutover_console.dns.vantage.engine import VantageMonitor
from cutover_console.dns.vantage.globalping import Measurement
from cutover_console.dns.vantage.journaling import VantageJournal
from cutover_console.journal import JournalWriter
from cutover_console.runbook import Cutover
writer = JournalWriter.open({journal!r}, command="bench")
cutover = Cutover(writer, SystemClock())
monitor = VantageMonitor(cutover.state.plan.dns, SystemClock())
recorder = VantageJournal(cutover)
flag = {flag!r}
body, n = results(500), 0
while os.path.exists(flag):
    n += 1
    for item in body["results"]:
        answer = item["result"]["answers"][0]
        answer["value"] = "198.51.100.10" if answer["value"] != "198.51.100.10" else "203.0.113.20"
    monitor.fold_measurement(Measurement("bench", 500, body), monitor.measured[0])
    recorder.record(monitor)
    time.sleep(2.0)
writer.close()
print(n)
"""


async def presses(app: WatchApp, count: int) -> list[float]:
    """As benchmarks/console.py measures them (key queued -> cursor moved and the next frame
    rendered), with a bound: a press not seen within 10 s is reported, not waited for."""
    table = app.query_one("#steps", DataTable)
    latencies: list[float] = []
    for i in range(count):
        key = "down" if (i // 20) % 2 == 0 else "up"
        row = table.cursor_row
        t0 = time.perf_counter()
        app._driver.send_message(events.Key(key, None))  # type: ignore[union-attr]
        while table.cursor_row == row:
            if time.perf_counter() - t0 > 10:
                raise RuntimeError(
                    f"press {i} ({key}) not seen in 10 s (cursor {row}, focus {app.focused})"
                )
            await asyncio.sleep(0.0005)
        rendered = asyncio.Event()
        app.call_after_refresh(rendered.set)
        await rendered.wait()
        latencies.append(time.perf_counter() - t0)
        await asyncio.sleep(0.1)
    return latencies


async def measure(journal: Path, flag: Path) -> tuple[list[float], list[float], int]:
    session = WatchSession(journal)
    app = WatchApp(session)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(1.0)
        quiet = await presses(app, 40)
        print("quiet done", file=sys.stderr, flush=True)
        flag.touch()
        script = WRITER.format(
            bench=str(Path(__file__).parent),
            tests=str(ROOT / "tests"),
            journal=str(journal),
            flag=str(flag),
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, env={**os.environ}
        )
        await asyncio.sleep(3.0)
        print("writer started", file=sys.stderr, flush=True)
        loaded = await presses(app, 40)
        print("loaded done", file=sys.stderr, flush=True)
        flag.unlink()
        out, _ = proc.communicate(timeout=60)
    session.close()
    return quiet, loaded, int(out or 0)


def console_plan() -> str:
    """The vantage plan with 60 steps, so that 20 presses down never reach the end."""
    text = plan_text()
    head, rest = text.split("steps:\n", 1)
    _, tail = rest.split("dns:\n", 1)
    steps = "".join(
        f"  - {{id: s{i:02d}, title: Step {i}, phase: saturday, owner: dba, duration: 5m}}\n"
        for i in range(60)
    )
    return head + "steps:\n" + steps + "dns:\n" + tail


def main(runs: int) -> None:
    os.environ["GP_BENCH_TOKEN"] = "bench-token-not-sent"
    document = load_plan_text(console_plan())
    ratios, quiet_p95, loaded_p95 = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            journal = Path(tmp) / "j.sqlite"
            from cutover_console.clock import ManualClock

            JournalWriter.create(
                journal,
                document.text,
                document.sha256,
                "plan.yaml",
                Actor.here("bench"),
                cutover_id=document.plan.cutover.id,
                clock=ManualClock(START),
            ).close()
            quiet, loaded, rounds = asyncio.run(measure(journal, Path(tmp) / "load"))
            q, lo = p95(quiet), p95(loaded)
            quiet_p95.append(q)
            loaded_p95.append(lo)
            ratios.append(lo / q)
            print(
                f"run: p95 without rounds {q * 1000:.1f} ms, with {rounds} rounds of 500 landing "
                f"{lo * 1000:.1f} ms (x{lo / q:.2f})"
            )
    print(
        f"median p95 without {statistics.median(quiet_p95) * 1000:.1f} ms, with rounds "
        f"{statistics.median(loaded_p95) * 1000:.1f} ms, ratio x{statistics.median(ratios):.2f} "
        "(target <= 1.2)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
