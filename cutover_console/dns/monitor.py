"""The propagation engine: health checks, authorities, TTL-scheduled probing, snapshots.

Politeness: a global bound on queries in flight and a per-resolver rate (token spacing), both
enforced here for every query, whatever asked for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import dns.exception
import dns.name
import dns.rdatatype

from ..clock import Clock, real_seconds
from ..plan.model import Authority, DnsSection
from .classify import ANSWERED, FAILED, TrackedRecord, Verdict, failure, tracked_records
from .probe import DEFAULT_TIMEOUT, ask, make_query, observe
from .resolvers import ResolverInfo, resolvers_for
from .schedule import SchedulePolicy, hold_for_quiet, next_due
from .tracker import PairState, pair_flips_by, update_pair

AUTHORITY_INTERVAL = timedelta(seconds=5)
HEALTH_INTERVAL = timedelta(seconds=60)


@dataclass
class ResolverHealth:
    ok: bool | None = None  # None: not checked yet
    detail: str = ""
    checked_at: datetime | None = None


@dataclass
class AuthorityState:
    """What the authoritative servers (asked with recursion off) say about one record."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)
    serials: dict[str, int | None] = field(default_factory=dict)
    new_since: datetime | None = None
    ttl_history: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def status(self) -> str:
        statuses = {v.status for v in self.verdicts.values()}
        if not statuses:
            return "pending"
        if len(statuses) == 1:
            return statuses.pop()
        return "split"

    @property
    def ttl(self) -> int | None:
        ttls = [v.ttl for v in self.verdicts.values() if v.ttl is not None and v.status in ANSWERED]
        return max(ttls) if ttls else None

    @property
    def agree(self) -> bool:
        serials = set(self.serials.values())
        return self.status not in ("split", "pending") and len(serials) == 1 and None not in serials


class PropagationMonitor:
    """Tracks every (resolver, record) pair of a plan's `dns:` section."""

    def __init__(
        self,
        section: DnsSection,
        clock: Clock,
        *,
        resolvers: list[ResolverInfo] | None = None,
        concurrency: int = 32,
        timeout: float = DEFAULT_TIMEOUT,
        policy: SchedulePolicy | None = None,
    ) -> None:
        self.section = section
        self.clock = clock
        self.records: list[TrackedRecord] = tracked_records(section.records)
        self.resolvers = resolvers if resolvers is not None else resolvers_for(section)
        self.timeout = timeout
        self.authorities: list[Authority] | None = section.authorities
        self.zone = section.zone.rstrip(".").lower() if section.zone else None
        self.pairs: dict[tuple[str, str], PairState] = {
            (r.key, rec.key): PairState() for r in self.resolvers for rec in self.records
        }
        self.health: dict[str, ResolverHealth] = {r.key: ResolverHealth() for r in self.resolvers}
        self.authority: dict[str, AuthorityState] = {
            rec.key: AuthorityState() for rec in self.records
        }
        self.policy = policy or self._default_policy()
        self.queries_sent = 0
        self.concurrency = concurrency
        self._limit = asyncio.Semaphore(concurrency)
        self._next_send: dict[str, float] = {}
        self._by_key = {r.key: r for r in self.resolvers}
        self._records_by_key = {rec.key: rec for rec in self.records}

    def _default_policy(self) -> SchedulePolicy:
        quiet = max((rec.ttl or 0 for rec in self.records), default=0)
        return SchedulePolicy(switch_at=self.section.switch_at, quiet=timedelta(seconds=quiet))

    # -- politeness ----------------------------------------------------------------------
    async def _send_slot(self, resolver: ResolverInfo) -> None:
        """Space queries to one resolver at 1/qps seconds."""
        now = time.monotonic()
        slot = max(now, self._next_send.get(resolver.key, now))
        self._next_send[resolver.key] = slot + 1.0 / resolver.qps
        if slot - now > 0.001:  # below a millisecond, sleeping costs more than it spaces
            await asyncio.sleep(slot - now)

    # -- health --------------------------------------------------------------------------
    async def health_check(self) -> None:
        """Ask every resolver for the zone's SOA: a resolver that cannot answer is marked, so
        that it is never read as 'not propagated'."""
        probe_name = self.zone or (self.records[0].name if self.records else ".")

        async def one(resolver: ResolverInfo) -> None:
            await self._send_slot(resolver)
            async with self._limit:
                self.queries_sent += 1
                health = self.health[resolver.key]
                health.checked_at = self.clock.now()
                try:
                    response, _ = await ask(
                        make_query(probe_name, "SOA"), resolver.address, resolver.port, self.timeout
                    )
                except dns.exception.Timeout:
                    health.ok, health.detail = False, f"no answer within {self.timeout:g} s"
                    return
                except (OSError, dns.exception.DNSException) as exc:
                    health.ok, health.detail = False, str(exc)[:200] or type(exc).__name__
                    return
                rcode = dns.rcode.to_text(response.rcode())
                health.ok = rcode in ("NOERROR", "NXDOMAIN")
                health.detail = "" if health.ok else f"cannot resolve {probe_name}: {rcode}"

        await asyncio.gather(*(one(r) for r in self.resolvers))

    # -- authorities ---------------------------------------------------------------------
    async def discover_authorities(self) -> list[Authority]:
        """The zone's NS set, found through the first healthy resolver."""
        if self.authorities is not None:
            return self.authorities
        helper = next((r for r in self.resolvers if self.health[r.key].ok), None)
        if helper is None or not self.records:
            return []
        try:
            if self.zone is None:
                response, _ = await ask(
                    make_query(self.records[0].name, "SOA"),
                    helper.address,
                    helper.port,
                    self.timeout,
                )
                owners = [
                    rr.name
                    for rr in response.answer + response.authority
                    if rr.rdtype == dns.rdatatype.SOA
                ]
                if not owners:
                    return []
                self.zone = owners[0].to_text(omit_final_dot=True).lower()
            response, _ = await ask(
                make_query(self.zone, "NS"), helper.address, helper.port, self.timeout
            )
            found: list[Authority] = []
            for rrset in response.answer:
                for rd in rrset:
                    host = rd.target.to_text()
                    addr, _ = await ask(
                        make_query(host, "A"), helper.address, helper.port, self.timeout
                    )
                    for arr in addr.answer:
                        if arr.rdtype == dns.rdatatype.A:
                            found.extend(
                                Authority(name=host.rstrip("."), address=a.address) for a in arr
                            )
            self.authorities = found
            return found
        except (OSError, dns.exception.DNSException):
            return []

    async def check_authorities(self) -> None:
        """Every record at every authority, recursion off, plus each authority's SOA serial."""
        authorities = await self.discover_authorities()
        if not authorities:
            return
        zone = self.zone or (_parent(self.records[0].name) if self.records else None)

        async def serial(auth: Authority) -> tuple[str, int | None]:
            if zone is None:
                return auth.name, None
            try:
                response, _ = await ask(
                    make_query(zone, "SOA", recursion=False), auth.address, auth.port, self.timeout
                )
            except (OSError, dns.exception.DNSException):
                return auth.name, None
            for rrset in response.answer:
                if rrset.rdtype == dns.rdatatype.SOA:
                    return auth.name, int(rrset[0].serial)
            return auth.name, None

        async def record_at(auth: Authority, rec: TrackedRecord) -> tuple[str, str, Verdict]:
            async with self._limit:
                self.queries_sent += 1
                verdict = await observe(
                    rec, auth.address, auth.port, self.clock, recursion=False, timeout=self.timeout
                )
            return auth.name, rec.key, verdict

        serials = dict(await asyncio.gather(*(serial(a) for a in authorities)))
        results = await asyncio.gather(
            *(record_at(a, rec) for a in authorities for rec in self.records)
        )
        now = self.clock.now()
        for name, key, verdict in results:
            self.authority[key].verdicts[name] = verdict
        for state in self.authority.values():
            state.serials = dict(serials)
            if state.status == "new":
                state.new_since = state.new_since or now
            else:
                state.new_since = None
            ttl = state.ttl
            if ttl is not None and (not state.ttl_history or state.ttl_history[-1][1] != ttl):
                state.ttl_history.append((now, ttl))

    # -- probing -------------------------------------------------------------------------
    def apply(self, resolver_key: str, record_key: str, verdict: Verdict) -> set[str]:
        auth = self.authority[record_key]
        return update_pair(
            self.pairs[(resolver_key, record_key)], verdict, auth.ttl, auth.new_since
        )

    async def probe(self, pairs: Iterable[tuple[str, str]]) -> int:
        """Ask the given pairs now, rate limits and concurrency honoured.

        A pool of workers, each taking the next pair from whichever resolver may be asked
        soonest: a query is paced when it is sent, not when it is queued, so a slow-rated
        resolver never holds up the others and an unhurried one costs no timers."""
        queues: dict[str, deque[str]] = {}
        for res_key, rec_key in pairs:
            queues.setdefault(res_key, deque()).append(rec_key)
        total = sum(len(q) for q in queues.values())

        async def worker() -> None:
            while queues:
                now = time.monotonic()
                res_key = min(queues, key=lambda k: self._next_send.get(k, now))
                ready_at = self._next_send.get(res_key, now)
                if ready_at > now:
                    await asyncio.sleep(ready_at - now)
                    continue
                resolver = self._by_key[res_key]
                self._next_send[res_key] = max(now, ready_at) + 1.0 / resolver.qps
                queue = queues[res_key]
                rec_key = queue.popleft()
                if not queue:
                    del queues[res_key]
                async with self._limit:
                    self.queries_sent += 1
                    verdict = await observe(
                        self._records_by_key[rec_key],
                        resolver.address,
                        resolver.port,
                        self.clock,
                        timeout=self.timeout,
                    )
                self.apply(res_key, rec_key, verdict)

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, total))))
        return total

    async def sweep(self) -> dict[str, Any]:
        """One full pass: health, authorities, every pair. Returns the snapshot."""
        await self.health_check()
        await self.check_authorities()
        await self.probe(self.pairs)
        return self.snapshot()

    def due(self, now: datetime) -> tuple[list[tuple[str, str]], datetime | None]:
        """Pairs due now, and the earliest future due time."""
        ready: list[tuple[str, str]] = []
        earliest: datetime | None = None
        for (res_key, rec_key), pair in self.pairs.items():
            resolver = self._by_key[res_key]
            when = hold_for_quiet(
                next_due(pair, resolver, self.policy, self.authority[rec_key].ttl), now, self.policy
            )
            if when is None or when <= now:
                ready.append((res_key, rec_key))
            elif earliest is None or when < earliest:
                earliest = when
        return ready, earliest

    async def run(
        self,
        stop: asyncio.Event,
        on_update: Callable[[dict[str, Any]], None] | None = None,
        *,
        max_sleep: float = 1.0,
    ) -> None:
        """Probe by schedule until `stop` is set; call `on_update` after every batch.

        Health checks (after the first), authority checks and probe batches run as tasks beside
        the scheduler: a dead resolver's timeouts delay nothing else, and a pair is never asked
        again while its previous question is still out."""
        last_health = last_auth = None
        running: set[asyncio.Task[None]] = set()
        inflight: set[tuple[str, str]] = set()
        health_task: asyncio.Task[None] | None = None
        auth_task: asyncio.Task[None] | None = None
        # Between batches, never sleep past a few seconds of the clock's time (a sped-up clock
        # must not let a short TTL go unobserved).
        cap = min(max_sleep, max(0.05, real_seconds(self.clock, 5.0)))

        def updated() -> None:
            if on_update is not None and not stop.is_set():
                on_update(self.snapshot())

        def spawn(coro: Any, done: Callable[[], None] | None = None) -> asyncio.Task[None]:
            task = asyncio.create_task(coro)
            running.add(task)

            def finished(t: asyncio.Task[None]) -> None:
                running.discard(t)
                if done is not None:
                    done()

            task.add_done_callback(finished)
            return task

        async def authorities_then_update() -> None:
            await self.check_authorities()
            updated()

        async def batch(pairs: list[tuple[str, str]]) -> None:
            try:
                await self.probe(pairs)
            finally:
                inflight.difference_update(pairs)
            updated()

        try:
            while not stop.is_set():
                now = self.clock.now()
                if last_health is None:
                    # before the first probe, so that dead is never read as 'not new'; beside
                    # the first look at the authorities when the plan names them
                    first: list[Any] = [self.health_check()]
                    if self.authorities is not None:
                        first.append(self.check_authorities())
                        last_auth = now
                    await asyncio.gather(*first)
                    last_health = now
                elif now - last_health >= HEALTH_INTERVAL and (
                    health_task is None or health_task.done()
                ):
                    health_task = spawn(self.health_check())
                    last_health = now
                if (last_auth is None or now - last_auth >= AUTHORITY_INTERVAL) and (
                    auth_task is None or auth_task.done()
                ):
                    auth_task = spawn(authorities_then_update())
                    last_auth = now
                due, earliest = self.due(self.clock.now())
                ready = [pair for pair in due if pair not in inflight]
                if ready:
                    inflight.update(ready)
                    spawn(batch(ready))
                wait = cap
                if earliest is not None:
                    ahead = (earliest - self.clock.now()).total_seconds()
                    wait = min(cap, max(0.05, real_seconds(self.clock, ahead)))
                if ready:
                    wait = min(wait, 0.05)  # a batch just left: look again soon
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)
        finally:
            for task in list(running):
                task.cancel()
            for task in list(running):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- reporting -----------------------------------------------------------------------
    def record_summary(self, record: TrackedRecord) -> dict[str, Any]:
        counts = {"healthy": 0, "new": 0, "old": 0, "failed": 0}
        eta: datetime | None = None
        for resolver in self.resolvers:
            pair = self.pairs[(resolver.key, record.key)]
            status = pair.status
            if status in FAILED:
                counts["failed"] += 1
            elif status in ANSWERED:
                counts["healthy"] += 1
                if status == "new":
                    counts["new"] += 1
                elif status in ("old", "mixed"):
                    counts["old"] += 1
            flips = pair_flips_by(pair)
            if flips is not None and (eta is None or flips > eta):
                eta = flips
        percent = round(100.0 * counts["new"] / counts["healthy"], 1) if counts["healthy"] else 0.0
        return {**counts, "percent_new": percent, "eta": _iso(eta)}

    def snapshot(self) -> dict[str, Any]:
        """The `cutover dns --json` document."""
        now = self.clock.now()
        records = []
        for record in self.records:
            auth = self.authority[record.key]
            records.append(
                {
                    "name": record.name,
                    "type": record.rdtype,
                    "authority": {
                        "status": auth.status,
                        "serial": max(
                            (s for s in auth.serials.values() if s is not None), default=None
                        ),
                        "serials": auth.serials,
                        "agree": auth.agree,
                        "ttl": auth.ttl,
                        "servers": {name: _verdict_json(v) for name, v in auth.verdicts.items()},
                    },
                    "resolvers": [self._pair_json(r, record) for r in self.resolvers],
                    "summary": self.record_summary(record),
                }
            )
        return {
            "observed_at": _iso(now),
            "quiet_period": self.policy.in_quiet_period(now),
            "switch_at": _iso(self.policy.switch_at),
            "queries": self.queries_sent,
            "resolvers": [
                {
                    "name": r.name,
                    "address": r.address,
                    "port": r.port,
                    "operator": r.operator,
                    "region": r.region,
                    "anycast": r.anycast,
                    "healthy": self.health[r.key].ok,
                    "detail": self.health[r.key].detail,
                }
                for r in self.resolvers
            ],
            "records": records,
        }

    def _pair_json(self, resolver: ResolverInfo, record: TrackedRecord) -> dict[str, Any]:
        pair = self.pairs[(resolver.key, record.key)]
        out: dict[str, Any] = {"name": resolver.name, "address": resolver.address}
        if resolver.port != 53:
            out["port"] = resolver.port
        verdict = pair.verdict or failure("timeout", self.clock.now(), "not asked yet", None)
        out.update(_verdict_json(verdict) if pair.verdict else {"status": "pending"})
        out["flips_by"] = _iso(pair_flips_by(pair))
        out["flags"] = sorted(pair.flags)
        return out


def _verdict_json(v: Verdict) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": v.status,
        "answers": v.answers,
        "ttl": v.ttl,
        "rtt_ms": round(v.rtt_ms, 2) if v.rtt_ms is not None else None,
        "ad": v.ad,
        "observed_at": _iso(v.observed_at),
    }
    if v.chain:
        out["chain"] = v.chain
    if v.detail:
        out["detail"] = v.detail
    return out


def _iso(when: datetime | None) -> str | None:
    """UTC with milliseconds and `Z`, as the JSON schema says."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parent(name: str) -> str:
    return dns.name.from_text(name).parent().to_text(omit_final_dot=True)
