"""The rehearsal world: the dummy environment from the story, started in-process on loopback.

Route 53 (moto's server, reached with boto3), an authoritative DNS server that serves what Route 53
holds, caching resolvers with real-world TTL behaviours, the old server and the new cloud side
(HTTP upload endpoint + health URL + SQLite database + log each), the sync job between them, and a
few hundred body shops uploading through their resolvers. Everything shares one `ScaledClock`.

It runs on its own thread and event loop, so the console's loop only ever sees network traffic:
the engines watch the world exactly as they would watch production.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..clock import ScaledClock, real_seconds
from .apps import AppServer, LogFile, SyncJob
from .dnsservers import AuthoritativeServer, CachingResolver, ResolverBehaviour, ZoneData
from .inboxes import Inboxes
from .route53 import Route53World
from .shops import ShopFleet, make_shops

# The addresses `checklists/demo.yaml` names (tests check the two agree). All on 127.0.0.0/8,
# unprivileged ports: the demo runs as any user and needs nothing installed.
ZONE = "bodyshops.rehearsal.test"
NS_NAME = f"ns1.{ZONE}"
DNS_PORT = 10053
HTTP_PORT = 10080
ROUTE53 = ("127.79.0.5", HTTP_PORT)
AUTHORITY = ("127.79.0.2", DNS_PORT)
OLD_SERVER = "127.79.1.10"
NEW_SERVER = "127.79.2.20"
RESOLVERS = (
    ResolverBehaviour("lab-a", "127.79.0.11", note="honours TTLs"),
    ResolverBehaviour("lab-b", "127.79.0.12", note="honours TTLs"),
    ResolverBehaviour("lab-capped", "127.79.0.13", "capped", max_ttl=30, note="caps TTLs at 30 s"),
    ResolverBehaviour(
        "lab-sticky", "127.79.0.14", "floored", min_ttl=1200, note="keeps answers >= 20 min"
    ),
    ResolverBehaviour("lab-dead", "127.79.0.15", "dead", note="never answers"),
)
# Which resolver the shops use (the dead one has none: their stubs moved on long ago).
SHOP_RESOLVERS = {"lab-a": 0.35, "lab-b": 0.30, "lab-capped": 0.20, "lab-sticky": 0.15}
RECORDS = ("upload", "portal")
OLD_TTL = 900  # the TTL before the cutover's lowering step
SYNC_EVERY_S = 120  # world seconds between sync job runs


class WorldError(Exception):
    """The world cannot start (an address in use, most often); the message says what to do."""


WITNESS_BUCKET = "rehearsal-witness"  # S3 with Object Lock, on the same moto server


@dataclass
class WorldOptions:
    shops: int = 300
    stragglers: int = 12
    seed: int = 20261205


class World:
    def __init__(self, directory: Path, clock: ScaledClock, options: WorldOptions | None = None):
        self.directory = directory
        self.clock = clock
        self.options = options or WorldOptions()
        self.rng = random.Random(self.options.seed)
        self.route53 = Route53World(*ROUTE53)
        self.authority: AuthoritativeServer | None = None
        self.resolvers: list[CachingResolver] = []
        self.apps: dict[str, AppServer] = {}
        self.logs: dict[str, LogFile] = {}
        self.sync: SyncJob | None = None
        self.fleet: ShopFleet | None = None
        self.probes: Any = None  # probes.ProbeNetwork, once started
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.zone_errors = 0
        self.inboxes = Inboxes(directory)  # the stakeholders' mail server and webhooks

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        """Start everything; returns once the world answers (raises WorldError otherwise)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "logs").mkdir(exist_ok=True)
        ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._main, args=(ready,), name="rehearsal-world", daemon=True
        )
        self._thread.start()
        try:
            ready.result(timeout)
        except BaseException:
            self.stop()
            raise

    def _main(self, ready: Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(ready))
        finally:
            loop.close()

    async def _serve(self, ready: Future[None]) -> None:
        self._stop = asyncio.Event()
        try:
            await self._start_all()
        except BaseException as exc:
            ready.set_exception(exc if isinstance(exc, WorldError) else _explain(exc))
            await self._close_all()
            return
        ready.set_result(None)
        await self._stop.wait()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._close_all()

    async def _start_all(self) -> None:
        d = self.directory
        for name in ("old-app", "new-app", "sync"):
            self.logs[name] = LogFile(d / "logs" / f"{name}.log", self.clock)
        self.apps["old"] = AppServer(
            "old", OLD_SERVER, HTTP_PORT, d / "old.db", self.logs["old-app"], self.clock
        )
        self.apps["new"] = AppServer(
            "new", NEW_SERVER, HTTP_PORT, d / "new.db", self.logs["new-app"], self.clock
        )
        for app in self.apps.values():
            app.start()
        await asyncio.to_thread(self.inboxes.start)
        self.sync = SyncJob(d / "old.db", d / "new.db", self.logs["sync"], self.clock)
        await asyncio.to_thread(self.route53.start)
        records = [(f"{r}.{ZONE}", "A", OLD_TTL, [OLD_SERVER]) for r in RECORDS]
        await asyncio.to_thread(self.route53.create_zone, ZONE, records)
        await asyncio.to_thread(self.route53.create_witness_bucket, WITNESS_BUCKET)
        client = await asyncio.to_thread(self.route53.client)
        zone = await asyncio.to_thread(self.route53.read_zone, client)
        self.authority = AuthoritativeServer(*AUTHORITY, ZoneData(ZONE, zone), NS_NAME)
        await self.authority.start()
        for behaviour in RESOLVERS:
            resolver = CachingResolver(behaviour, DNS_PORT, AUTHORITY, ZONE, self.clock)
            await resolver.start()
            self.resolvers.append(resolver)
        wanted = [(f"{r}.{ZONE}", "A") for r in RECORDS]
        for resolver in self.resolvers:
            await resolver.prewarm(wanted, self.rng)
        from .probes import ProbeNetwork  # Globalping's API, for the vantage view

        self.probes = ProbeNetwork({r.behaviour.name: (r.address, r.port) for r in self.resolvers})
        self.probes.start()
        by_name = {r.behaviour.name: (r.address, r.port) for r in self.resolvers}
        shops = make_shops(
            self.options.shops,
            [(by_name[name], weight) for name, weight in SHOP_RESOLVERS.items()],
            self.clock.now(),
            self.rng,
            stragglers=self.options.stragglers,
        )
        self.fleet = ShopFleet(shops, f"upload.{ZONE}", HTTP_PORT, self.clock, self.rng)
        assert self._stop is not None
        self._tasks = [
            asyncio.create_task(self._follow_route53(client)),
            asyncio.create_task(self._sync_loop()),
            asyncio.create_task(self.fleet.run(self._stop)),
        ]

    async def _close_all(self) -> None:
        if self.probes is not None:
            await asyncio.to_thread(self.probes.stop)
        for resolver in self.resolvers:
            resolver.close()
        if self.authority is not None:
            self.authority.close()
        for app in self.apps.values():
            await asyncio.to_thread(app.stop)
        await asyncio.to_thread(self.inboxes.stop)
        await asyncio.to_thread(self.route53.stop)
        for log in self.logs.values():
            log.close()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    # -- what keeps the world moving -----------------------------------------------------
    async def _follow_route53(self, client: Any) -> None:
        """Route 53's name servers pick up a change within a second or so (real seconds: this is
        AWS's own propagation, not a TTL)."""
        assert self._stop is not None and self.authority is not None
        while not self._stop.is_set():
            try:
                zone = await asyncio.to_thread(self.route53.read_zone, client)
                self.authority.replace(zone)
            except Exception:  # moto busy or stopping: the authority keeps serving what it has
                self.zone_errors += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 0.3)

    async def _sync_loop(self) -> None:
        assert self._stop is not None and self.sync is not None
        while not self._stop.is_set():
            await asyncio.to_thread(self.sync.run_once)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), real_seconds(self.clock, SYNC_EVERY_S))

    # -- what the world can say about itself --------------------------------------------
    def summary(self) -> dict[str, Any]:
        fleet = self.fleet
        shops = fleet.shops if fleet else []
        on_old = sum(1 for s in shops if s.cached == OLD_SERVER)
        return {
            "shops": len(shops),
            "uploads_old": self.apps["old"].uploads if "old" in self.apps else 0,
            "uploads_new": self.apps["new"].uploads if "new" in self.apps else 0,
            "shops_pointing_old": on_old,
            "stragglers": sum(1 for s in shops if s.straggler_pin is not None),
            "quiet": [s.site for s in shops if s.quiet_after is not None],
            "upload_errors": sum(s.errors for s in shops),
            "sync_runs": self.sync.runs if self.sync else 0,
            "dns_queries": {r.behaviour.name: r.queries for r in self.resolvers},
            "updates_received": len(self.inboxes.received),
        }


def _explain(exc: BaseException) -> WorldError:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.errno in (98, 48):  # EADDRINUSE (Linux, macOS)
        text = (
            f"a rehearsal address is in use ({exc}): is another `cutover demo` running? "
            "Stop it, or wait for it to finish."
        )
    elif isinstance(exc, OSError) and exc.errno in (99, 49):  # EADDRNOTAVAIL
        text = (
            f"cannot bind a loopback address of the rehearsal world ({exc}); this system does "
            "not route 127.79.0.0/16 to loopback (macOS: `sudo ifconfig lo0 alias 127.79.0.2` "
            "and the others)"
        )
    return WorldError(text)
