"""The DNS engine against real servers: nsd, unbound, dnsmasq and Knot Resolver on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dns.message
import dns.query
import pytest
from dnsbed import NEW, OLD, RESOLVERS, ZONE, DnsBed
from support import PLANS, require_binary, run_cli

from cutover_console.clock import SystemClock
from cutover_console.dns.evidence import gate_verdict, preflight
from cutover_console.dns.monitor import PropagationMonitor
from cutover_console.dns.schedule import SchedulePolicy
from cutover_console.journal import JournalReader
from cutover_console.plan import load_plan
from cutover_console.plan.model import DnsSection, Gate

LAB = PLANS / "dns-lab.yaml"
WARM = ("unbound", "dnsmasq", "kresd")


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsBed]:
    for binary in ("nsd", "unbound", "dnsmasq", "kresd"):
        require_binary(binary)
    testbed = DnsBed(tmp_path_factory.mktemp("dnsbed"))
    testbed.start()
    try:
        yield testbed
    finally:
        testbed.stop()
        assert all(p.poll() is not None for p in testbed.procs.values())


@pytest.fixture
def fresh(bed: DnsBed) -> DnsBed:
    """Old values everywhere and cold caches."""
    bed.publish(upload=OLD, app=OLD, ttl=300)
    bed.flush()
    return bed


def lab_section(**changes: object) -> DnsSection:
    section = load_plan(LAB).plan.dns
    assert section is not None
    return section.model_copy(update=changes)


def statuses(snapshot: dict, record: str, rtype: str = "A") -> dict[str, str]:  # type: ignore[type-arg]
    entry = next(r for r in snapshot["records"] if r["name"] == record and r["type"] == rtype)
    return {x["name"]: x["status"] for x in entry["resolvers"]}


def test_every_status_is_classified(fresh: DnsBed) -> None:
    monitor = PropagationMonitor(lab_section(), SystemClock(), timeout=1.0)
    snap = asyncio.run(monitor.sweep())
    upload = statuses(snap, f"upload.{ZONE}")
    assert {upload[n] for n in WARM} == {"old"}
    assert upload["deadup"] == "servfail"  # a resolver whose upstream is dead
    assert upload["nobody"] == "timeout"  # nothing listens there
    assert upload["wrong"] == "other"  # an unexpected answer
    assert {statuses(snap, f"both.{ZONE}")[n] for n in WARM} == {"mixed"}
    assert statuses(snap, f"late.{ZONE}")["unbound"] == "nxdomain"
    assert statuses(snap, f"upload.{ZONE}", "AAAA")["kresd"] == "nodata"
    assert statuses(snap, "www.elsewhere.test")["nsd-direct"] == "refused"
    health = {r["name"]: r["healthy"] for r in snap["resolvers"]}
    assert health["deadup"] is False and health["nobody"] is False and health["unbound"] is True
    summary = next(r for r in snap["records"] if r["name"] == f"upload.{ZONE}")["summary"]
    # failing resolvers are not "not propagated": they are out of the denominator
    assert summary["failed"] == 2 and summary["healthy"] == 6
    fresh.publish(upload=NEW, app=NEW, ttl=300)
    fresh.flush()
    snap = asyncio.run(PropagationMonitor(lab_section(), SystemClock(), timeout=1.0).sweep())
    assert {statuses(snap, f"upload.{ZONE}")[n] for n in WARM} == {"new"}
    record = next(r for r in snap["records"] if r["name"] == f"upload.{ZONE}")
    assert record["authority"]["status"] == "new" and record["authority"]["agree"] is True


def true_flip_times(resolvers: list[str], name: str, until: float) -> dict[str, float]:
    """Poll each resolver every 0.2 s on our own and note when it first answers NEW."""
    flips: dict[str, float] = {}
    while time.time() < until and len(flips) < len(resolvers):
        for res in resolvers:
            if res in flips:
                continue
            addr, port = RESOLVERS[res]
            try:
                r = dns.query.udp(dns.message.make_query(name, "A"), addr, port=port, timeout=0.5)
            except Exception:
                continue
            values = {rd.to_text() for rr in r.answer if rr.rdtype == 1 for rd in rr}
            if values == {NEW}:
                flips[res] = time.time()
        time.sleep(0.2)
    return flips


@pytest.mark.parametrize("record", ["upload", "shop01"])
def test_flip_prediction_within_two_seconds(fresh: DnsBed, record: str) -> None:
    """Warm caches, change the record, predict each flip from one old observation."""
    ttl = 8
    fresh.publish(upload=OLD, app=OLD, ttl=ttl, shop_ttl=300)
    fresh.flush()
    name = f"{record}.{ZONE}"
    monitor = PropagationMonitor(lab_section(), SystemClock(), timeout=1.0)
    asyncio.run(
        monitor.probe([(r.key, f"{name}/A") for r in monitor.resolvers if r.name in WARM])
    )  # warm the caches
    time.sleep(2.5)
    fresh.publish(upload=NEW, app=NEW, ttl=ttl, shop_ttl=300)  # shop01 CNAME app: app changes
    asyncio.run(monitor.probe([(r.key, f"{name}/A") for r in monitor.resolvers if r.name in WARM]))
    predicted = {}
    for res in monitor.resolvers:
        if res.name in WARM:
            pair = monitor.pairs[(res.key, f"{name}/A")]
            assert pair.verdict is not None and pair.verdict.status == "old", res.name
            assert pair.verdict.ttl is not None and pair.verdict.ttl <= ttl  # the A's TTL decides
            if record == "shop01":
                assert pair.verdict.chain == [f"app.{ZONE}"]
            assert pair.flips_by is not None
            predicted[res.name] = pair.flips_by.timestamp()
    flips = true_flip_times(list(WARM), name, time.time() + ttl + 6)
    assert set(flips) == set(WARM)
    for res in WARM:
        assert abs(flips[res] - predicted[res]) <= 2.0, (res, flips[res] - predicted[res])


def test_negative_caching_is_predicted(fresh: DnsBed) -> None:
    monitor = PropagationMonitor(lab_section(), SystemClock(), timeout=1.0)
    late = f"late.{ZONE}/A"
    targets = [(r.key, late) for r in monitor.resolvers if r.name in WARM]
    asyncio.run(monitor.probe(targets))
    fresh.publish(upload=OLD, app=OLD, ttl=300, extra=f"late 300 IN A {NEW}")
    for key in targets:
        verdict = monitor.pairs[key].verdict
        assert verdict is not None and verdict.status == "nxdomain"
        assert verdict.ttl is not None and 0 <= verdict.ttl <= 5  # min(SOA TTL, SOA MINIMUM)
    expiry = max(monitor.pairs[k].verdict.expires_at for k in targets)  # type: ignore[union-attr,type-var]
    flips = true_flip_times(list(WARM), f"late.{ZONE}", time.time() + 10)
    assert set(flips) == set(WARM)
    assert max(flips.values()) <= expiry.timestamp() + 2.0


def test_ttl_preflight(fresh: DnsBed) -> None:
    gate = Gate(check="ttl_lowered", records=[f"upload.{ZONE}"])
    fresh.publish(upload=OLD, app=OLD, ttl=3600)
    monitor = PropagationMonitor(lab_section(), SystemClock(), timeout=1.0)
    asyncio.run(monitor.check_authorities())
    record = next(r for r in monitor.records if r.key == f"upload.{ZONE}/A")
    verdict = preflight(monitor, record, SystemClock().now())
    assert not verdict.lowered and "3600" in verdict.reason  # plan expects 300
    assert gate_verdict(monitor, gate, SystemClock().now())[0] is False
    fresh.publish(upload=OLD, app=OLD, ttl=300)
    asyncio.run(monitor.check_authorities())
    now = SystemClock().now()
    verdict = preflight(monitor, record, now)
    assert verdict.lowered and verdict.previous_ttl == 3600
    assert verdict.safe_at is not None and verdict.safe_at - now > timedelta(minutes=59)
    assert not verdict.safe_now
    # A fresh engine with no history falls back to what the caches hold.
    fresh.flush()
    later = PropagationMonitor(lab_section(), SystemClock(), timeout=1.0)
    asyncio.run(later.sweep())
    assert preflight(later, record, SystemClock().now()).safe_now
    assert gate_verdict(later, gate, SystemClock().now())[0] is True


def test_quiet_period_before_switch(fresh: DnsBed) -> None:
    now = SystemClock().now()
    policy = SchedulePolicy(switch_at=now + timedelta(seconds=30), quiet=timedelta(seconds=300))
    monitor = PropagationMonitor(lab_section(), SystemClock(), timeout=1.0, policy=policy)

    async def run_briefly() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(monitor.run(stop))
        await asyncio.sleep(2.0)
        stop.set()
        await task

    asyncio.run(run_briefly())
    asked = sum(pair.queries for pair in monitor.pairs.values())
    assert asked == 0  # no resolver was asked about any record...
    assert monitor.authority[f"upload.{ZONE}/A"].status == "old"  # ...authorities still were
    assert monitor.snapshot()["quiet_period"] is True


class CountingServer:
    """A real UDP DNS listener that answers every query and records when each arrived."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.arrivals: list[float] = []
        self.address = address

    async def serve(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        arrivals = self.arrivals

        class Protocol(asyncio.DatagramProtocol):
            def connection_made(self, transport):  # type: ignore[no-untyped-def]
                self.transport = transport

            def datagram_received(self, data, addr):  # type: ignore[no-untyped-def]
                arrivals.append(time.monotonic())
                query = dns.message.from_wire(data)
                response = dns.message.make_response(query)
                response.answer.append(
                    dns.rrset.from_text(query.question[0].name, 300, "IN", "A", OLD)
                )
                self.transport.sendto(response.to_wire(), addr)

        transport, _ = await loop.create_datagram_endpoint(Protocol, local_addr=self.address)
        await stop.wait()
        transport.close()


def test_rate_limit_per_resolver_is_honoured() -> None:
    server = CountingServer(("127.0.53.30", 5330))
    section = DnsSection.model_validate(
        {
            "resolvers": [{"name": "polite", "address": "127.0.53.30", "port": 5330, "qps": 20}],
            "authorities": [],
            "records": [{"names": ["r{001..050}.example.test"], "old": [OLD], "new": [NEW]}],
        }
    )

    async def main() -> None:
        stop = asyncio.Event()
        serving = asyncio.create_task(server.serve(stop))
        await asyncio.sleep(0.1)
        monitor = PropagationMonitor(section, SystemClock(), concurrency=64)
        await monitor.probe(monitor.pairs)
        stop.set()
        await serving

    asyncio.run(main())
    arrivals = server.arrivals
    assert len(arrivals) == 50
    assert arrivals[-1] - arrivals[0] >= 49 / 20 - 0.1  # spaced at 1/qps
    for i, t in enumerate(arrivals):
        in_window = sum(1 for u in arrivals[i:] if u - t < 1.0)
        assert in_window <= 21


def test_dns_command_json_and_journal(fresh: DnsBed, tmp_path: Path) -> None:
    result = run_cli("dns", str(LAB), "--once", "--json", "--timeout", "1")
    assert result.returncode == 0, result.stderr  # failing resolvers do not fail the sweep
    snap = json.loads(result.stdout)
    assert snap["observed_at"].endswith("Z")
    record = snap["records"][0]
    assert set(record) >= {"name", "type", "authority", "resolvers", "summary", "preflight"}
    unbound = next(x for x in record["resolvers"] if x["name"] == "unbound")
    assert {"status", "answers", "ttl", "rtt_ms", "flips_by", "flags"} <= set(unbound)
    assert unbound["status"] == "old" and unbound["flips_by"] is not None
    assert next(x for x in record["resolvers"] if x["name"] == "nobody")["flips_by"] is None
    assert set(record["summary"]) >= {"healthy", "new", "old", "failed", "percent_new", "eta"}
    journal = tmp_path / "j.sqlite"
    assert run_cli("init", str(LAB), "--journal", str(journal)).returncode == 0
    first = run_cli("dns", str(LAB), "--once", "--journal", str(journal), "--timeout", "1")
    assert first.returncode == 0, first.stderr
    with JournalReader(journal) as reader:
        kinds = [e.kind for e in reader.events()]
    assert kinds.count("dns.verdict") >= 30 and "dns.authority" in kinds
    gates = [e for e in JournalReader(journal).events() if e.kind == "gate.evaluated"]
    assert {(e.step, e.payload["gate"], e.payload["ok"]) for e in gates} >= {
        ("dns-switch", "authority-new", False),
        ("verify-new", "dns-propagated", False),
    }
    again = run_cli("dns", str(LAB), "--once", "--journal", str(journal), "--timeout", "1")
    assert again.returncode == 0
    with JournalReader(journal) as reader:
        second = [e.kind for e in reader.events(after=len(kinds))]
    assert second.count("dns.verdict") < kinds.count("dns.verdict") // 3  # changes only
    assert run_cli("verify", str(journal)).returncode == 0


def test_dns_command_bad_plan_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "p.yaml"
    broken.write_text("cutover: {id: x\n")
    result = run_cli("dns", str(broken), "--once", "--json")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_dead_resolver_never_blocks_others(fresh: DnsBed) -> None:
    """A blackholed resolver costs its own timeout, not the others' answers."""
    monitor = PropagationMonitor(lab_section(), SystemClock(), timeout=2.0)
    done: dict[str, float] = {}

    async def main() -> None:
        start = time.monotonic()

        async def one(name: str) -> None:
            res = next(r for r in monitor.resolvers if r.name == name)
            await monitor.probe([(res.key, f"upload.{ZONE}/A")])
            done[name] = time.monotonic() - start

        await asyncio.gather(one("nobody"), one("unbound"), one("kresd"))

    asyncio.run(main())
    assert done["unbound"] < 0.5 and done["kresd"] < 0.5 and done["nobody"] >= 1.9
