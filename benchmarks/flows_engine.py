"""Heartbeat engine cost and isolation.

1. 2,000 sites across 20 flows (old and new side each, 100 sites a flow, read through the SQLite
   ODBC driver) refreshed every 30 s: CPU seconds of one refresh cycle (all 40 reads, the journal's
   change detection and a snapshot for the views), median of 5 steady-state cycles, as a share of
   the 30 s period. Target (issue 4): <= 10 % of one core.
2. A blackholed source (a TCP listener that accepts and never answers, behind psqlODBC) next to 19
   healthy ones: how much later each healthy read finishes than in the same run without the dead
   source (medians of 5 rounds each, interleaved). Target: <= 100 ms.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support import SMALL

from cutover_console.clock import SystemClock
from cutover_console.heartbeats.flows import FlowMonitor
from cutover_console.heartbeats.journaling import FlowJournal
from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan_text
from cutover_console.runbook import Cutover

FLOWS, SITES = 20, 100


def make_db(path: Path, side: str) -> None:
    now = datetime.now(UTC)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE uploads (flow int, shop text, received_at text)")
    rows = [
        (
            f,
            f"shop-{f:02d}-{s:03d}",
            (now - timedelta(minutes=(s * 7 + f) % 50 + (30 if side == "old" else 0))).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
        )
        for f in range(FLOWS)
        for s in range(SITES)
        for _ in range(3)
    ]
    conn.executemany("INSERT INTO uploads VALUES (?,?,?)", rows)
    conn.execute("CREATE INDEX i ON uploads (flow, shop)")
    conn.commit()
    conn.close()


def plan_text(flows: str) -> str:
    # the small plan keeps its dns: section (its gates need it); flows go after it
    return SMALL.read_text() + "flows:\n" + flows


def cpu_benchmark(tmp: Path) -> None:
    for side in ("old", "new"):
        make_db(tmp / f"{side}.db", side)
        os.environ[f"BENCH_{side.upper()}_DSN"] = f"Driver={{SQLite3}};Database={tmp / side}.db;"
    flows = "".join(
        f"""  - id: flow-{f:02d}
    title: Flow {f}
    system: wcf
    late_after: 30m
    sites: true
    every: 30s
    old: {{kind: sql, dsn: "env:BENCH_OLD_DSN", query: "SELECT shop, MAX(received_at), COUNT(*)
          FROM uploads WHERE flow = {f} GROUP BY shop"}}
    new: {{kind: sql, dsn: "env:BENCH_NEW_DSN", query: "SELECT shop, MAX(received_at), COUNT(*)
          FROM uploads WHERE flow = {f} GROUP BY shop"}}
"""
        for f in range(FLOWS)
    )
    document = load_plan_text(plan_text(flows), "bench.yaml")
    writer = JournalWriter.create(
        tmp / "j.sqlite",
        document.text,
        document.sha256,
        "bench.yaml",
        Actor("lena", "bench"),
        cutover_id="bench",
    )
    cutover = Cutover(writer, SystemClock())
    journal = FlowJournal(cutover)
    monitor = FlowMonitor(document.plan, SystemClock())

    def cycle() -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        asyncio.run(monitor.poll_all())
        journal.record(monitor)
        monitor.snapshot()
        return time.process_time() - cpu, time.perf_counter() - wall

    cycle()  # the first cycle journals every site once; steady state is what follows
    samples = [cycle() for _ in range(5)]
    writer.close()
    sites = sum(len(state.sites) for state in monitor.flows.values())
    cpu = statistics.median(s[0] for s in samples)
    wall = statistics.median(s[1] for s in samples)
    print(
        f"{FLOWS} flows x 2 sides, {sites} sites, via the SQLite ODBC driver: one refresh costs "
        f"{cpu * 1000:.0f} ms CPU ({wall * 1000:.0f} ms wall), median of 5 steady cycles"
    )
    print(f"  at one refresh every 30 s: {100 * cpu / 30:.2f} % of one core (target <= 10 %)")


def isolation_benchmark(tmp: Path) -> None:
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    os.environ["BENCH_HOLE_DSN"] = (
        f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;"
        f"Port={hole.getsockname()[1]};Database=x;Uid=u;Pwd=x;"
    )
    healthy = "".join(
        f"""  - id: ok-{i:02d}
    title: ok
    system: other
    late_after: 1h
    new: {{kind: sql, dsn: "env:BENCH_NEW_DSN", query: "SELECT MAX(received_at), COUNT(*)
          FROM uploads WHERE flow = {i}"}}
"""
        for i in range(19)
    )
    dead = """  - id: dead
    title: dead
    system: other
    late_after: 1h
    new: {kind: sql, dsn: "env:BENCH_HOLE_DSN", query: "SELECT 1", timeout: 3}
"""

    def run(with_dead: bool) -> dict[str, float]:
        document = load_plan_text(plan_text(healthy + (dead if with_dead else "")), "b.yaml")
        monitor = FlowMonitor(document.plan, SystemClock())
        finished: dict[str, float] = {}

        async def main() -> None:
            start = time.perf_counter()

            async def one(flow_id: str) -> None:
                await monitor.poll_side(flow_id, "new")
                finished[flow_id] = time.perf_counter() - start

            await asyncio.gather(*(one(f) for f in monitor.flows))

        asyncio.run(main())
        return finished

    delays: list[float] = []
    for _ in range(5):
        base = run(False)
        mixed = run(True)
        delays.extend(mixed[f] - base[f] for f in base)
    hole.close()
    print(
        f"19 healthy reads beside one blackholed source (timeout 3 s), 5 interleaved rounds: "
        f"extra delay median {statistics.median(delays) * 1000:.1f} ms, "
        f"max {max(delays) * 1000:.1f} ms (target <= 100 ms)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cpu_benchmark(Path(tmp))
        isolation_benchmark(Path(tmp))


if __name__ == "__main__":
    main()
