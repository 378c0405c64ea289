"""The rehearsal world's DNS servers, on a manual clock: TTLs count down in world time, each
resolver behaviour keeps answers as long as real ones do, the authority's serial follows changes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import pytest

from cutover_console.clock import ManualClock
from cutover_console.rehearsal.dnsservers import (
    AuthoritativeServer,
    CachingResolver,
    ResolverBehaviour,
    ZoneData,
)

ZONE = "shops.example.test"
OLD, NEW = "192.0.2.10", "192.0.2.20"


def zone_with(value: str, ttl: int) -> dict[tuple[str, str], tuple[int, list[str]]]:
    return {
        (f"upload.{ZONE}", "A"): (ttl, [value]),
        (f"shop1.{ZONE}", "CNAME"): (3600, [f"upload.{ZONE}."]),
    }


async def ask(port: int, name: str, rdtype: str = "A", rd: bool = True) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    if not rd:
        query.flags &= ~dns.flags.RD
    return await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=1.0)


def answer(response: dns.message.Message) -> tuple[str, int]:
    rrset = response.answer[-1]
    return rrset[0].to_text(), rrset.ttl


def test_resolvers_keep_answers_as_their_behaviour_says() -> None:
    async def scenario() -> None:
        clock = ManualClock(datetime(2026, 12, 5, 22, 0, tzinfo=UTC))
        authority = AuthoritativeServer(
            "127.0.0.1", 0, ZoneData(ZONE, zone_with(OLD, 900)), f"ns1.{ZONE}"
        )
        await authority.start()
        upstream = ("127.0.0.1", authority.port)
        behaviours = [
            ResolverBehaviour("honest", "127.0.0.1"),
            ResolverBehaviour("capped", "127.0.0.1", "capped", max_ttl=30),
            ResolverBehaviour("sticky", "127.0.0.1", "floored", min_ttl=1200),
            ResolverBehaviour("dead", "127.0.0.1", "dead"),
        ]
        resolvers = {b.name: CachingResolver(b, 0, upstream, ZONE, clock) for b in behaviours}
        for resolver in resolvers.values():
            await resolver.start()
        port = {name: r.port for name, r in resolvers.items()}
        try:
            # the authority: AA, no recursion, SOA serial 1, NXDOMAIN with the SOA
            direct = await ask(authority.port, f"upload.{ZONE}", rd=False)
            assert direct.flags & dns.flags.AA and answer(direct) == (OLD, 900)
            missing = await ask(authority.port, f"nope.{ZONE}", rd=False)
            assert missing.rcode() == dns.rcode.NXDOMAIN and missing.authority
            refused = await ask(authority.port, "example.org", rd=False)
            assert refused.rcode() == dns.rcode.REFUSED

            assert answer(await ask(port["honest"], f"upload.{ZONE}")) == (OLD, 900)
            assert answer(await ask(port["capped"], f"upload.{ZONE}")) == (OLD, 30)
            assert answer(await ask(port["sticky"], f"upload.{ZONE}")) == (OLD, 1200)
            # a CNAME chain is followed and cached like the rest
            chained = await ask(port["honest"], f"shop1.{ZONE}")
            assert [rr.rdtype for rr in chained.answer] == [5, 1]

            clock.advance(timedelta(seconds=100))  # TTLs count down in the world's time
            assert answer(await ask(port["honest"], f"upload.{ZONE}")) == (OLD, 800)

            # the switch: the authority serves the new value with serial 2
            assert authority.replace(zone_with(NEW, 60))
            assert not authority.replace(zone_with(NEW, 60))  # no change, same serial
            soa = await ask(authority.port, ZONE, "SOA", rd=False)
            assert soa.answer[0][0].serial == 2
            assert answer(await ask(port["capped"], f"upload.{ZONE}")) == (NEW, 30)
            assert answer(await ask(port["honest"], f"upload.{ZONE}"))[0] == OLD  # cached

            clock.advance(timedelta(seconds=801))  # the honest cache expires
            assert answer(await ask(port["honest"], f"upload.{ZONE}")) == (NEW, 60)
            assert answer(await ask(port["sticky"], f"upload.{ZONE}"))[0] == OLD  # 1200 s
            clock.advance(timedelta(seconds=300))
            assert answer(await ask(port["sticky"], f"upload.{ZONE}")) == (NEW, 1200)

            with pytest.raises(dns.exception.Timeout):  # dead: read, never answered
                await ask(port["dead"], f"upload.{ZONE}")
            assert resolvers["dead"].queries == 1
        finally:
            for resolver in resolvers.values():
                resolver.close()
            authority.close()

    asyncio.run(scenario())


def test_prewarmed_caches_look_filled_at_different_moments() -> None:
    async def scenario() -> None:
        import random

        clock = ManualClock(datetime(2026, 12, 5, 22, 0, tzinfo=UTC))
        authority = AuthoritativeServer(
            "127.0.0.1", 0, ZoneData(ZONE, zone_with(OLD, 900)), f"ns1.{ZONE}"
        )
        await authority.start()
        rng = random.Random(7)
        left = []
        try:
            for n in range(5):
                resolver = CachingResolver(
                    ResolverBehaviour(f"r{n}", "127.0.0.1"),
                    0,
                    ("127.0.0.1", authority.port),
                    ZONE,
                    clock,
                )
                await resolver.start()
                await resolver.prewarm([(f"upload.{ZONE}", "A")], rng)
                left.append(answer(await ask(resolver.port, f"upload.{ZONE}"))[1])
                resolver.close()
        finally:
            authority.close()
        assert len(set(left)) == 5 and all(0 < t <= 900 for t in left)

    asyncio.run(scenario())
