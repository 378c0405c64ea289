"""The witness (issue 13) against moto's S3 server on loopback (in a process of its own).

- archive lag at 100 journaled events a second: for each event, from its journal timestamp to
  the moment the segment holding it was uploaded (p95 per run; the publisher flushes a quarter
  of the 60 s bound after an event arrives, checkpoints every 10 s);
- publisher CPU: the publisher's own thread (all its work, boto3 included, runs there), as a
  share of one core, at 100 events/s and at 2 events/s;
- key press latency in the lead's console with the publisher on and off, in the same process,
  alternating (the measurement of benchmarks/console.py: key queued -> cursor moved -> frame);
- restore of a 100,000-event journal from the archive (segments of 10,000 events; engine
  observations with a decision every 250 events, so 400 checkpoints), chain and every
  checkpoint verified, the journal written.
Targets: lag p95 <= 60 s; CPU <= 2 % of a core; key latency unchanged within noise; restore
<= 10 s. Medians of several runs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support import SMALL

from cutover_console.archive import engine as archive_engine
from cutover_console.archive.location import ArchiveLocation
from cutover_console.archive.publisher import ArchivePublisher
from cutover_console.archive.restore import restore
from cutover_console.archive.settings import ArchiveSettings
from cutover_console.clock import parse_ts
from cutover_console.journal import Actor, JournalReader, JournalWriter
from cutover_console.plan import load_plan
from cutover_console.report.bundle import signing_key
from cutover_console.service import engines
from cutover_console.service.lead import LeadSession

RUNS = 3
LOAD_S = 40.0
ENGINE = Actor("engine:dns", "bench")


class _MotoProcess:
    """moto's server in its own process, as S3 is: its work is not this process's."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s, contextlib.suppress(OSError):
                s.connect(("127.0.0.1", self.port))
                break
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _moto() -> tuple[_MotoProcess, str]:
    server = _MotoProcess()
    endpoint = f"http://127.0.0.1:{server.port}"
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL_S3=endpoint,
    )
    return server, endpoint


def _bucket(name: str) -> str:
    import boto3

    boto3.client("s3").create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def _thread_cpu(prefix: str) -> float:
    """CPU seconds of this process's threads whose name starts with `prefix` (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for thread in threading.enumerate():
        if thread.name.startswith(prefix) and thread.native_id is not None:
            try:
                fields = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
            except OSError:
                continue
            parts = fields.rsplit(")", 1)[1].split()
            total += (int(parts[11]) + int(parts[12])) / ticks
    return total


def _settings(where: str) -> ArchiveSettings:
    return ArchiveSettings(ArchiveLocation.parse(where), checkpoint_every=timedelta(seconds=10))


async def _load(session: LeadSession, rate: float, seconds: float) -> int:
    """Notes at `rate` a second, through the session's journal thread like any action."""
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        due = int((time.monotonic() - started) * rate)
        while sent < due:
            sent += 1
            await session.act(
                lambda c, n=sent: c._record("note.added", "lena", {"text": f"load {n}"}, None, None)
            )
        await asyncio.sleep(0.01)
    return sent


def lag_and_cpu(tmp: Path, run: int, rate: float, seconds: float) -> tuple[float, float, int]:
    """(p95 lag in s, publisher CPU share, events) for one run at `rate` events/s."""
    journal = tmp / f"lag-{rate:g}-{run}.sqlite"
    where = f"s3://{_bucket(f'lag-{int(rate)}-{run}')}/bench"
    key = signing_key(tmp / "key")
    uploaded: dict[str, float] = {}
    session = LeadSession.open(journal, load_plan(SMALL))
    publisher = ArchivePublisher(journal, _settings(where), key, clock=session.clock)
    put = publisher.store.put

    def timed_put(name: str, data: bytes) -> str:
        version = put(name, data)
        uploaded[name] = time.time()
        return version

    publisher.store.put = timed_put  # type: ignore[method-assign]

    async def main() -> tuple[int, float, float]:
        stop = asyncio.Event()

        async def record(kind: str, payload: dict[str, Any]) -> None:
            await session.act(lambda c: c.record_archive(kind, payload))

        task = asyncio.create_task(publisher.run(stop, record))
        await asyncio.sleep(3)  # the first rounds (bucket check, first checkpoint)
        cpu0, wall0 = _thread_cpu("archive"), time.monotonic()
        sent = await _load(session, rate, seconds)
        await asyncio.sleep(20)  # until the last events are out
        cpu = _thread_cpu("archive") - cpu0
        wall = time.monotonic() - wall0
        stop.set()
        await task
        return sent, cpu, wall

    sent, cpu, wall = asyncio.run(main())
    lags = []
    with JournalReader(journal) as reader:
        spans = sorted(
            (int(n[9:21]), int(n[22:34]), at) for n, at in uploaded.items() if n.startswith("seg")
        )
        for event in reader.events():
            at = next((t for first, last, t in spans if first <= event.seq <= last), None)
            if at is not None and event.kind == "note.added":
                lags.append(at - parse_ts(event.ts).timestamp())
    publisher.close()
    session.close()
    p95 = statistics.quantiles(lags, n=20)[18]
    return p95, cpu / wall, sent


async def _key_latencies(session: LeadSession, publisher_on: bool) -> list[float]:
    from textual import events
    from textual.widgets import DataTable

    from cutover_console.ui.app import LeadApp

    app = LeadApp(session, engines=publisher_on)
    latencies: list[float] = []
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(1.0)

        async def churn() -> None:  # 100 events a second into the journal, as in the lag runs
            await _load(session, 100, 1000)

        task = asyncio.create_task(churn())
        table = app.query_one("#steps", DataTable)
        for i in range(60):
            row = table.cursor_row
            t0 = time.perf_counter()
            key = "down" if i % 8 < 4 else "up"
            app._driver.send_message(events.Key(key, None))  # type: ignore[union-attr]
            while table.cursor_row == row:
                await asyncio.sleep(0.0005)
            rendered = asyncio.Event()
            app.call_after_refresh(rendered.set)
            await rendered.wait()
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.1)
        task.cancel()
    return latencies


def key_latency(tmp: Path) -> dict[bool, list[float]]:
    """p95 key latency per round, publisher on and off alternating, in this one process."""
    engines.ENGINES = {"archive": engines.archive_engine}
    out: dict[bool, list[float]] = {True: [], False: []}
    for run in range(RUNS):
        for on in (True, False):
            journal = tmp / f"keys-{run}-{on}.sqlite"
            where = f"s3://{_bucket(f'keys-{run}-{int(on)}')}/bench"
            archive_engine.configure(journal, _settings(where) if on else None, tmp / "key")
            session = LeadSession.open(journal, load_plan(SMALL))
            latencies = asyncio.run(_key_latencies(session, on))
            session.close()
            out[on].append(statistics.quantiles(latencies, n=20)[18])
    return out


def weekend_journal(path: Path, events: int, every: int) -> int:
    """A journal of `events`: engine observations (gate evidence, notes) with a decision (a
    step started or completed) every `every` events, as a weekend's engines and lead make them.
    Written straight to the journal (rules are not what is measured); returns the decisions."""
    document = load_plan(SMALL)
    writer = JournalWriter.create(
        path, document.text, document.sha256, "small.yaml", Actor("lena", "bench"),
        cutover_id=document.plan.cutover.id,
    )  # fmt: skip
    steps = [s.id for s in document.plan.steps]
    decisions = 1
    batch: list[tuple[str, dict[str, Any], Actor, str | None]] = []
    for n in range(2, events + 1):
        if n % every == 0:
            kind = "step.started" if (n // every) % 2 else "step.completed"
            batch.append((kind, {}, Actor("lena", "bench"), steps[(n // every) % len(steps)]))
            decisions += 1
        elif n % 3:
            evidence = {"ok": n % 7 != 0, "detail": f"observation {n}", "evidence": {"n": n}}
            batch.append(("gate.evaluated", {"gate": "g", **evidence}, ENGINE, steps[0]))
        else:
            batch.append(("note.added", {"text": f"engine note {n}"}, ENGINE, None))
        if len(batch) == 1000:
            writer.append_many(batch)
            batch = []
    if batch:
        writer.append_many(batch)
    writer.close()
    return decisions


def restore_time(tmp: Path) -> tuple[float, list[float], int, int]:
    journal = tmp / "big.sqlite"
    weekend_journal(journal, 100_000, 250)
    where = f"s3://{_bucket('restore')}/bench"
    key = signing_key(tmp / "key")
    publisher = ArchivePublisher(journal, _settings(where), key)
    started = time.perf_counter()
    caught = False
    while not caught:
        publisher.step(final=True)  # records are not journaled: the journal stays 100,000
        caught = publisher.status.archived_seq >= 100_000 and not publisher.status.fault
    publish_s = time.perf_counter() - started
    publisher.close()
    samples = []
    for run in range(RUNS):
        target = tmp / f"restored-{run}.sqlite"
        t0 = time.perf_counter()
        done = restore(where, target)
        samples.append(time.perf_counter() - t0)
        assert done.complete and done.head.seq == 100_000, done
        assert done.checkpoints == publisher.published, done
    return statistics.median(samples), samples, int(publish_s), publisher.published


def main() -> None:
    parts = set(sys.argv[1:]) or {"lag", "keys", "restore"}  # any of them, by name
    server, _endpoint = _moto()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            if "lag" in parts:
                lag_runs(tmp)
            if "keys" in parts:
                key_runs(tmp)
            if "restore" in parts:
                restore_runs(tmp)
    finally:
        server.stop()


def lag_runs(tmp: Path) -> None:
    print("archive lag and publisher CPU at 100 events/s:")
    heavy = [lag_and_cpu(tmp, run, 100, LOAD_S) for run in range(RUNS)]
    for p95, cpu, sent in heavy:
        print(f"  {sent} events: lag p95 {p95:.1f} s, publisher {cpu * 100:.2f} % of a core")
    print(
        f"  median: lag p95 {statistics.median(h[0] for h in heavy):.1f} s, "
        f"CPU {statistics.median(h[1] for h in heavy) * 100:.2f} %"
    )
    light = [lag_and_cpu(tmp, 10 + run, 2, LOAD_S) for run in range(RUNS)]
    print(
        f"at 2 events/s: median lag p95 {statistics.median(h[0] for h in light):.1f} s, "
        f"CPU {statistics.median(h[1] for h in light) * 100:.2f} % of a core"
    )


def key_runs(tmp: Path) -> None:
    keys = key_latency(tmp)
    on, off = statistics.median(keys[True]), statistics.median(keys[False])
    print(
        f"key press p95, publisher on: {on * 1000:.0f} ms (runs "
        f"{', '.join(f'{x * 1000:.0f}' for x in keys[True])}), off: {off * 1000:.0f} ms "
        f"(runs {', '.join(f'{x * 1000:.0f}' for x in keys[False])}); "
        f"on/off {on / off:.2f}"
    )


def restore_runs(tmp: Path) -> None:
    median, samples, publish_s, checkpoints = restore_time(tmp)
    print(
        f"restore of 100,000 events ({checkpoints} checkpoints): median {median:.2f} s (runs "
        f"{', '.join(f'{s:.2f}' for s in samples)}); publishing them took {publish_s} s"
    )


if __name__ == "__main__":
    main()
