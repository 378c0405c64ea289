"""The body shops of the rehearsal world: a few hundred sites uploading estimates and repair
orders on their own schedules, each to whichever side its resolver currently points it at.

Each shop asks its own resolver over real UDP and posts over real HTTP to the address it got.
Most shops keep an answer only as long as its TTL; stragglers pin the address they resolved for
a long time (an upload service that resolves once and keeps its connection until restarted), so
they keep reaching the old side long after the switch; one shop goes quiet (closed for the
weekend) and is seen on neither side again.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dns.asyncquery
import dns.exception
import dns.message
import dns.rdatatype

from ..clock import Clock, real_seconds


@dataclass
class Shop:
    site: str
    resolver: tuple[str, int]
    every: timedelta
    straggler_pin: timedelta | None = None  # how long a resolved address is kept, if pinned
    quiet_after: datetime | None = None  # stops uploading at this world time
    cached: str | None = None
    cached_until: datetime | None = None
    uploads: dict[str, int] = field(default_factory=dict)  # address -> count
    errors: int = 0
    last_error: str = ""


def make_shops(
    count: int,
    resolvers: list[tuple[tuple[str, int], float]],
    start: datetime,
    rng: random.Random,
    *,
    stragglers: int,
    quiet: int = 1,
) -> list[Shop]:
    """`count` shops with deterministic schedules (same seed, same world)."""
    endpoints = [r for r, _ in resolvers]
    weights = [w for _, w in resolvers]
    shops = []
    for n in range(1, count + 1):
        shops.append(
            Shop(
                site=f"shop-{n:03d}",
                resolver=rng.choices(endpoints, weights)[0],
                every=timedelta(minutes=rng.uniform(4, 12)),
            )
        )
    chosen = rng.sample(shops, stragglers + quiet)
    for shop in chosen[:stragglers]:
        shop.straggler_pin = timedelta(minutes=rng.uniform(20, 35))
    for shop in chosen[stragglers:]:
        shop.quiet_after = start + timedelta(minutes=rng.uniform(6, 10))
    return shops


class ShopFleet:
    """Runs every shop's upload schedule on the world's clock."""

    def __init__(
        self,
        shops: list[Shop],
        host: str,
        port: int,
        clock: Clock,
        rng: random.Random,
        *,
        concurrency: int = 48,
    ) -> None:
        self.shops = shops
        self.host, self.port = host, port
        self.clock = clock
        self.rng = rng
        self._limit = asyncio.Semaphore(concurrency)
        self._due: list[tuple[datetime, int]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.attempts = 0

    async def run(self, stop: asyncio.Event) -> None:
        now = self.clock.now()
        for index, shop in enumerate(self.shops):  # spread the first uploads over one interval
            first = now + shop.every * self.rng.random()
            heapq.heappush(self._due, (first, index))
        try:
            while not stop.is_set():
                now = self.clock.now()
                while self._due and self._due[0][0] <= now:
                    due, index = heapq.heappop(self._due)
                    shop = self.shops[index]
                    if shop.quiet_after is not None and now >= shop.quiet_after:
                        continue  # gone quiet: never scheduled again
                    if now - due > shop.every:  # the clock skipped a night: spread the restart
                        heapq.heappush(self._due, (now + shop.every * self.rng.random(), index))
                        continue
                    jitter = self.rng.uniform(0.85, 1.15)
                    heapq.heappush(self._due, (now + shop.every * jitter, index))
                    task = asyncio.create_task(self._upload(shop))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                wait = 0.2
                if self._due:
                    ahead = (self._due[0][0] - self.clock.now()).total_seconds()
                    wait = min(0.2, max(0.005, real_seconds(self.clock, ahead)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
        finally:
            # uploads in flight end here, awaited: a world that stops leaves no task pending
            # for its loop to destroy (and print) as it closes
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def address_of(self, shop: Shop) -> str:
        now = self.clock.now()
        if shop.cached is not None and shop.cached_until is not None and now < shop.cached_until:
            return shop.cached
        query = dns.message.make_query(self.host, dns.rdatatype.A)
        response = await dns.asyncquery.udp(
            query, shop.resolver[0], port=shop.resolver[1], timeout=2.0
        )
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.A:
                shop.cached = rrset[0].address
                keep = timedelta(seconds=rrset.ttl)
                if shop.straggler_pin is not None:
                    keep = max(keep, shop.straggler_pin)
                shop.cached_until = now + keep
                return shop.cached
        raise LookupError(f"{self.host}: no address from {shop.resolver[0]}")

    async def _upload(self, shop: Shop) -> None:
        async with self._limit:
            self.attempts += 1
            try:
                address = await self.address_of(shop)
                body = json.dumps(
                    {
                        "site": shop.site,
                        "kind": self.rng.choice(("estimate", "repair_order", "supplement")),
                        "amount_cents": self.rng.randint(20_000, 900_000),
                    }
                ).encode()
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(address, self.port), 5
                )
                try:
                    writer.write(
                        (
                            f"POST /upload HTTP/1.1\r\nHost: {self.host}\r\n"
                            "Content-Type: application/json\r\n"
                            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                        ).encode()
                        + body
                    )
                    await writer.drain()
                    status_line = await asyncio.wait_for(reader.readline(), 5)
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
                if b" 201 " not in status_line:
                    raise OSError(status_line.decode(errors="replace").strip() or "no answer")
                shop.uploads[address] = shop.uploads.get(address, 0) + 1
            except (OSError, TimeoutError, LookupError, dns.exception.DNSException) as exc:
                shop.errors += 1
                shop.last_error = f"{type(exc).__name__}: {exc}"[:200]
                shop.cached = None  # a failed send re-resolves next time
