"""Vantage points (issue 24): the cost of a round, and the hourly budget over a long weekend.

Part 1: a round of 500 Globalping probe results (the shape the API returns, half old, half new,
spread over 40 countries and 120 networks) parsed, classified, folded, and journaled as changes
into a real journal. CPU time (process_time), median of 5 runs, each on a fresh engine and journal
(so every result is a change and is written). Target: <= 0.5 s.

Part 2: the real scheduler (`next_round` + `BudgetLedger`) at one round every 5 minutes with 50
probes, against the anonymous limit of 250 tests an hour, over 18 simulated hours. The API's own
counter is simulated as fixed hourly windows starting at a random offset (its reset is not ours to
choose), and it reports `X-RateLimit-Remaining`/`Reset` after each round as the real one does. The
check: no fixed API window and no rolling hour ever counts more than 250. Target: never exceeded.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support import SMALL

from cutover_console.clock import ManualClock
from cutover_console.dns.vantage.budget import BudgetLedger, next_round
from cutover_console.dns.vantage.engine import VantageMonitor
from cutover_console.dns.vantage.globalping import Measurement
from cutover_console.dns.vantage.journaling import VantageJournal
from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan_text
from cutover_console.runbook import Cutover

OLD, NEW = "198.51.100.10", "203.0.113.20"
START = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


def plan_text() -> str:
    return SMALL.read_text().rstrip() + (
        "\n  vantage:\n    globalping:\n      token: env:GP_BENCH_TOKEN\n"
        "      locations: [{magic: world, limit: 200}, {magic: eyeball, limit: 200},"
        " {magic: Europe, limit: 100}]\n      cadence: 1h\n"
    )


def results(n: int) -> dict[str, object]:
    rng = random.Random(5)
    out = []
    for i in range(n):
        asn = 1000 + i % 120
        out.append(
            {
                "probe": {
                    "continent": "EU",
                    "region": "Western Europe",
                    "country": f"C{i % 40:02d}"[:2] + chr(65 + i % 26),
                    "state": None,
                    "city": f"City {i % 90}",
                    "asn": asn,
                    "network": f"Network {asn} Ltd",
                    "latitude": 1.0,
                    "longitude": 2.0,
                    "tags": ["eyeball-network"],
                    "resolvers": ["private"],
                },
                "result": {
                    "status": "finished",
                    "rawOutput": "",
                    "statusCode": 0,
                    "statusCodeName": "NOERROR",
                    "resolver": "private",
                    "answers": [
                        {
                            "name": "upload.small.test.",
                            "type": "A",
                            "ttl": rng.randint(1, 300),
                            "class": "IN",
                            "value": OLD if i % 2 else NEW,
                        }
                    ],
                    "timings": {"total": 12},
                },
            }
        )
    return {"id": "bench", "status": "finished", "results": out}


def round_cpu(n: int = 500) -> float:
    import os

    os.environ["GP_BENCH_TOKEN"] = "bench-token-not-sent"
    document = load_plan_text(plan_text())
    assert document.plan.dns is not None
    body = results(n)
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock(START)
        writer = JournalWriter.create(
            Path(tmp) / "j.sqlite",
            document.text,
            document.sha256,
            "plan.yaml",
            Actor.here("bench"),
            cutover_id=document.plan.cutover.id,
            clock=clock,
        )
        try:
            cutover = Cutover(writer, clock)
            monitor = VantageMonitor(document.plan.dns, clock)
            recorder = VantageJournal(cutover)
            started = time.process_time()
            folded = monitor.fold_measurement(Measurement("bench", n, body), monitor.measured[0])
            written = recorder.record(monitor)
            spent = time.process_time() - started
            assert folded == n and written == n + 0, (folded, written)
            return spent
        finally:
            writer.close()


def budget_simulation(hours: int = 18, cadence_min: int = 5, probes: int = 50) -> dict[str, float]:
    limit = 250
    ledger = BudgetLedger(limit)
    offset = timedelta(seconds=random.Random(3).randint(0, 3599))  # where the API's hour starts
    api_windows: dict[int, int] = {}
    spends: list[datetime] = []
    now, last = START, None
    end = START + timedelta(hours=hours)
    wanted = hours * 60 // cadence_min
    while now < end:
        due = next_round(last, timedelta(minutes=cadence_min), ledger, probes, now)
        assert due is not None
        if due > now:
            now = due
            continue
        window = int((now - START + offset).total_seconds() // 3600)
        if api_windows.get(window, 0) + probes > limit:  # the API would answer 429
            raise AssertionError(f"the API would refuse the round at {now}")
        api_windows[window] = api_windows.get(window, 0) + probes
        ledger.spend(now, probes)
        reset = 3600 - int((now - START + offset).total_seconds()) % 3600
        ledger.api_says(now, limit - api_windows[window], reset, probes)
        spends.append(now)
        last = now
        now += timedelta(seconds=1)
    rolling = max(sum(probes for s in spends if t <= s < t + timedelta(hours=1)) for t in spends)
    return {
        "rounds": len(spends),
        "rounds_wanted": wanted,
        "max_fixed_window": max(api_windows.values()),
        "max_rolling_hour": rolling,
        "limit": limit,
    }


def main() -> None:
    cpu = [round_cpu() for _ in range(5)]
    print(
        f"500 probe results parsed, classified, folded, journaled: CPU median "
        f"{statistics.median(cpu):.3f} s (runs {', '.join(f'{c:.3f}' for c in cpu)}; "
        "target <= 0.5 s)"
    )
    sim = budget_simulation()
    worst = max(sim["max_fixed_window"], sim["max_rolling_hour"])
    print(
        f"18 h at 1 round / 5 min x 50 probes: {sim['rounds']} rounds of {sim['rounds_wanted']} "
        f"wanted; most in one API window {sim['max_fixed_window']}, in any rolling hour "
        f"{sim['max_rolling_hour']} (limit {sim['limit']}): "
        f"{'never exceeded' if worst <= sim['limit'] else 'EXCEEDED'}"
    )


if __name__ == "__main__":
    main()
