"""Sweep throughput against a real local resolver (unbound, warm cache, loopback).

Side by side in one run, medians of 3 interleaved rounds:
- the engine: PropagationMonitor.probe over N records (classification, flags, rate spacing);
- the baseline: a bare loop of dns.asyncquery.udp with the same concurrency (32 in flight);
- what practitioners run: a sequential loop of `dig` (on a sample, extrapolated to qps);
- the ceiling: dnsperf against the same resolver.

Targets (issue 3): engine >= 85 % of the bare loop, >= 20x the dig loop."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.asyncquery

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from dnsbed import NEW, OLD, RESOLVERS, ZONE, DnsBed

from cutover_console.clock import SystemClock
from cutover_console.dns.monitor import PropagationMonitor
from cutover_console.dns.probe import make_query
from cutover_console.plan.model import DnsSection

N = 2000
CONCURRENCY = 32
ADDR, PORT = RESOLVERS["unbound"]
NAMES = [f"s{i:04d}.{ZONE}" for i in range(N)]


def section() -> DnsSection:
    return DnsSection.model_validate(
        {
            "resolvers": [{"name": "unbound", "address": ADDR, "port": PORT, "qps": 10000}],
            "authorities": [],
            "records": [{"names": [f"s{{0000..{N - 1:04d}}}.{ZONE}"], "old": [OLD], "new": [NEW]}],
        }
    )


def engine_round() -> float:
    monitor = PropagationMonitor(section(), SystemClock(), concurrency=CONCURRENCY)
    start = time.perf_counter()
    asyncio.run(monitor.probe(monitor.pairs))
    elapsed = time.perf_counter() - start
    statuses = {p.status for p in monitor.pairs.values()}
    assert statuses == {"old"}, statuses
    return N / elapsed


def bare_round() -> float:
    async def main() -> None:
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(name: str) -> None:
            async with limit:
                # the same query the engine sends (EDNS, for Extended DNS Errors)
                await dns.asyncquery.udp(make_query(name, "A"), ADDR, port=PORT, timeout=2)

        await asyncio.gather(*(one(n) for n in NAMES))

    start = time.perf_counter()
    asyncio.run(main())
    return N / (time.perf_counter() - start)


def dig_round(sample: int = 100) -> float:
    start = time.perf_counter()
    for name in NAMES[:sample]:
        subprocess.run(
            ["dig", "+short", "+tries=1", "+time=2", f"@{ADDR}", "-p", str(PORT), name, "A"],
            capture_output=True,
            check=True,
        )
    return sample / (time.perf_counter() - start)


def dnsperf_round(tmp: Path) -> float:
    data = tmp / "queries.txt"
    data.write_text("".join(f"{n} A\n" for n in NAMES))
    out = subprocess.run(
        [
            "dnsperf",
            "-s",
            ADDR,
            "-p",
            str(PORT),
            "-d",
            str(data),
            "-l",
            "5",
            "-c",
            "4",
            "-q",
            str(CONCURRENCY * 4),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if "Queries per second" in x)
    return float(line.split(":")[1])


def main() -> None:
    extra = "\n".join(f"s{i:04d} 3600 IN A {OLD}" for i in range(N))
    with tempfile.TemporaryDirectory() as tmp:
        bed = DnsBed(Path(tmp))
        bed.start()
        try:
            bed.publish(upload=OLD, app=OLD, ttl=3600, extra=extra)
            engine_round()  # warm the resolver's cache
            rounds: dict[str, list[float]] = {"engine": [], "bare": [], "dig": [], "dnsperf": []}
            for _ in range(5):
                rounds["engine"].append(engine_round())
                rounds["bare"].append(bare_round())
                rounds["dig"].append(dig_round())
                rounds["dnsperf"].append(dnsperf_round(Path(tmp)))
        finally:
            bed.stop()
    med = {k: statistics.median(v) for k, v in rounds.items()}
    print(
        f"sweep of {N} names against unbound on loopback, {CONCURRENCY} in flight, "
        "median of 5 interleaved rounds"
    )
    for key, label in (
        ("engine", "engine (PropagationMonitor.probe)"),
        ("bare", "bare dns.asyncquery.udp loop"),
        ("dig", "sequential dig loop"),
        ("dnsperf", "dnsperf (ceiling)"),
    ):
        runs = ", ".join(f"{x:.0f}" for x in rounds[key])
        print(f"  {label:<36} {med[key]:8.0f} qps   ({runs})")
    print(
        f"  engine / bare = {med['engine'] / med['bare']:.2f} (target >= 0.85); "
        f"engine / dig = {med['engine'] / med['dig']:.1f}x (target >= 20x); "
        f"engine / dnsperf = {med['engine'] / med['dnsperf']:.2f}"
    )


if __name__ == "__main__":
    main()
