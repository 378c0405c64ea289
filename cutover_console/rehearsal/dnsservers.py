"""The rehearsal world's DNS: an authoritative server for the demo zone and caching resolvers.

Both speak real DNS over real UDP on loopback (dnspython messages), so the propagation engine
asks them exactly as it asks public resolvers. Time is the world's clock: a cached answer's TTL
counts down in world seconds, so a sped-up world expires caches sped up too.

Resolver behaviours seen in the wild, each one a `ResolverBehaviour`:
- honest: caches for the record's TTL, counts it down, asks again when it expires;
- capped: never caches longer than `max_ttl` (several large resolvers cap TTLs);
- floored: caches at least `min_ttl` (ISP resolvers that stretch short TTLs: the stragglers);
- dead: the socket is open but nothing ever answers (a timeout, never a verdict).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from ..clock import Clock

RRKey = tuple[str, str]  # (lower-case name without the final dot, type)


def _key(name: dns.name.Name | str, rdtype: int | str) -> RRKey:
    text = name.to_text(omit_final_dot=True) if isinstance(name, dns.name.Name) else name
    kind = (
        dns.rdatatype.to_text(dns.rdatatype.RdataType(rdtype))
        if isinstance(rdtype, int)
        else rdtype
    )
    return text.rstrip(".").lower(), kind.upper()


@dataclass
class ZoneData:
    """What the authoritative server serves: a snapshot, swapped whole when Route 53 changes."""

    origin: str
    rrsets: dict[RRKey, tuple[int, list[str]]]  # (ttl, values)
    serial: int = 1


class _Datagram(asyncio.DatagramProtocol):
    def __init__(self, handle: Callable[[bytes, tuple[str, int]], None]) -> None:
        self.handle = handle

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.handle(data, addr)


class UdpServer(ABC):
    """A UDP DNS server on one loopback address; subclasses answer one query at a time."""

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.transport: asyncio.DatagramTransport | None = None
        self.queries = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagram(self._received), local_addr=(self.address, self.port)
        )
        self.transport = transport
        self.port = int(transport.get_extra_info("sockname")[1])  # port 0: the one given

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        for task in self._tasks:
            task.cancel()

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queries += 1
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            return  # not DNS: dropped, like any server would
        task = asyncio.create_task(self._reply(query, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reply(self, query: dns.message.Message, addr: tuple[str, int]) -> None:
        response = await self.answer(query)
        if response is not None and self.transport is not None:
            self.transport.sendto(response.to_wire(max_size=65535), addr)

    @abstractmethod
    async def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        """The response to send, or None to send nothing."""


class AuthoritativeServer(UdpServer):
    """Authoritative for one zone, from a `ZoneData` snapshot (recursion never offered)."""

    def __init__(self, address: str, port: int, zone: ZoneData, ns_name: str) -> None:
        super().__init__(address, port)
        self.zone = zone
        self.ns_name = ns_name

    def replace(self, rrsets: dict[RRKey, tuple[int, list[str]]]) -> bool:
        """Serve new data; the SOA serial goes up when anything changed."""
        if rrsets == self.zone.rrsets:
            return False
        self.zone = ZoneData(self.zone.origin, rrsets, self.zone.serial + 1)
        return True

    def _soa(self) -> dns.rrset.RRset:
        zone = self.zone
        return dns.rrset.from_text(
            zone.origin + ".",
            60,
            "IN",
            "SOA",
            f"{self.ns_name}. hostmaster.{zone.origin}. {zone.serial} 900 300 604800 60",
        )

    def _rrset(self, name: str, rdtype: str) -> dns.rrset.RRset | None:
        zone = self.zone
        if rdtype == "SOA" and name == zone.origin:
            return self._soa()
        if rdtype == "NS" and name == zone.origin:
            return dns.rrset.from_text(zone.origin + ".", 3600, "IN", "NS", self.ns_name + ".")
        if rdtype == "A" and name == self.ns_name:
            return dns.rrset.from_text(name + ".", 3600, "IN", "A", self.address)
        found = zone.rrsets.get((name, rdtype))
        if found is None:
            return None
        ttl, values = found
        return dns.rrset.from_text_list(name + ".", ttl, "IN", rdtype, values)

    def _exists(self, name: str) -> bool:
        zone = self.zone
        return name in (zone.origin, self.ns_name) or any(n == name for n, _ in zone.rrsets)

    async def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        response.flags &= ~dns.flags.RA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name, rdtype = _key(question.name, question.rdtype)
        origin = self.zone.origin
        if not (name == origin or name.endswith("." + origin)):
            response.flags &= ~dns.flags.AA
            response.set_rcode(dns.rcode.REFUSED)
            return response
        for _hop in range(8):  # follow CNAMEs inside the zone, as authoritative servers do
            rrset = self._rrset(name, rdtype)
            if rrset is not None:
                response.answer.append(rrset)
                return response
            cname = self._rrset(name, "CNAME") if rdtype != "CNAME" else None
            if cname is None:
                break
            response.answer.append(cname)
            name = _key(cname[0].target, "CNAME")[0]
            if not name.endswith("." + origin):
                return response  # out of zone: the resolver follows it
        response.authority.append(self._soa())
        if not response.answer and not self._exists(name):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


@dataclass(frozen=True)
class ResolverBehaviour:
    name: str
    address: str
    kind: str = "honest"  # honest | capped | floored | dead
    max_ttl: int | None = None
    min_ttl: int | None = None
    note: str = ""

    def cache_for(self, ttl: int) -> int:
        if self.max_ttl is not None:
            ttl = min(ttl, self.max_ttl)
        if self.min_ttl is not None:
            ttl = max(ttl, self.min_ttl)
        return ttl


@dataclass
class _Cached:
    values: list[str]
    rdtype: str
    expires: datetime
    negative: int | None = None  # rcode of a cached negative answer


class CachingResolver(UdpServer):
    """A recursive resolver for the world: asks the authority (RD off) and caches by the world's
    clock with its behaviour's TTL policy."""

    def __init__(
        self,
        behaviour: ResolverBehaviour,
        port: int,
        upstream: tuple[str, int],
        zone: str,
        clock: Clock,
    ) -> None:
        super().__init__(behaviour.address, port)
        self.behaviour = behaviour
        self.upstream = upstream
        self.zone = zone
        self.clock = clock
        self.cache: dict[RRKey, _Cached] = {}
        self.upstream_queries = 0

    async def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        if self.behaviour.kind == "dead":
            return None  # the datagram is read and dropped: the asker times out
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        name, rdtype = _key(question.name, question.rdtype)
        if not (name == self.zone or name.endswith("." + self.zone)):
            response.set_rcode(dns.rcode.REFUSED)  # the world knows one zone
            return response
        try:
            chain, rcode = await self.resolve(name, rdtype)
        except (OSError, dns.exception.DNSException):
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        now = self.clock.now()
        for owner, entry in chain:
            remaining = max(0, math.ceil((entry.expires - now).total_seconds()))
            response.answer.append(
                dns.rrset.from_text_list(owner + ".", remaining, "IN", entry.rdtype, entry.values)
            )
        response.set_rcode(dns.rcode.Rcode(rcode))
        return response

    async def resolve(self, name: str, rdtype: str) -> tuple[list[tuple[str, _Cached]], int]:
        """The answer chain for (name, type) from the cache, asking upstream for what is missing."""
        chain: list[tuple[str, _Cached]] = []
        for _hop in range(8):
            entry = self._fresh((name, rdtype))
            if entry is None and rdtype != "CNAME":
                entry = self._fresh((name, "CNAME"))
            if entry is None:
                await self.fetch(name, rdtype)
                entry = self._fresh((name, rdtype)) or self._fresh((name, "CNAME"))
                if entry is None:
                    return chain, dns.rcode.SERVFAIL
            if entry.negative is not None:
                return chain, entry.negative
            chain.append((name, entry))
            if entry.rdtype == rdtype or entry.rdtype != "CNAME":
                return chain, dns.rcode.NOERROR
            name = entry.values[0].rstrip(".").lower()
        return chain, dns.rcode.SERVFAIL

    def _fresh(self, key: RRKey) -> _Cached | None:
        entry = self.cache.get(key)
        if entry is None or entry.expires <= self.clock.now():
            return None
        return entry

    async def fetch(self, name: str, rdtype: str, *, age: float = 0.0) -> None:
        """Ask the authority and cache what it says; `age` back-dates the entries (a cache
        that was filled some time before the world started)."""
        query = dns.message.make_query(name, rdtype)
        query.flags &= ~dns.flags.RD
        self.upstream_queries += 1
        response = await dns.asyncquery.udp(
            query, self.upstream[0], port=self.upstream[1], timeout=2.0
        )
        now = self.clock.now() - timedelta(seconds=age)
        for rrset in response.answer:
            key = _key(rrset.name, rrset.rdtype)
            keep = self.behaviour.cache_for(rrset.ttl)
            self.cache[key] = _Cached(
                [rd.to_text() for rd in rrset], key[1], now + timedelta(seconds=keep)
            )
        rcode = response.rcode()
        if not response.answer:
            negative_ttl = self.behaviour.cache_for(60)
            self.cache[(name, rdtype)] = _Cached(
                [], rdtype, now + timedelta(seconds=negative_ttl), negative=rcode
            )

    async def prewarm(self, names: list[tuple[str, str]], rng: random.Random) -> None:
        """Fill the cache as if clients had asked at random moments within the last TTL."""
        if self.behaviour.kind == "dead":
            return
        for name, rdtype in names:
            with contextlib.suppress(OSError, dns.exception.DNSException):
                await self.fetch(name, rdtype)
                entry = self.cache.get((name, rdtype))
                if entry is not None and entry.negative is None:
                    left = (entry.expires - self.clock.now()).total_seconds()
                    entry.expires -= timedelta(seconds=rng.uniform(0, max(0.0, left) * 0.9))
