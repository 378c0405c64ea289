"""The vantage engine: rounds of Globalping measurements and SSH hosts, folded into the same
`Verdict`s and `PairState`s as the resolvers (classify.py, tracker.py), so a probe's predicted
flip is the resolver rows' prediction, made the same way.

A failing source is a fault, shown and journaled (once per change); it never stops the other
source, nor the resolvers' engine beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ...clock import Clock, real_seconds
from ...plan.model import DnsSection
from ...runbook.vantage_summary import aggregate, overall
from ...secrets import SecretUnavailable, resolve
from ..classify import TrackedRecord, Verdict, failure, tracked_records
from ..tracker import PairState, pair_flips_by, update_pair
from .budget import BudgetLedger, next_round
from .globalping import GlobalpingClient, GlobalpingError, Measurement
from .points import VantagePoint, answers_from_json, classify_answers, location_text
from .sshhost import SshHostError, ask_host, point_of

SSH_EVERY = timedelta(seconds=30)  # our own hosts: no budget, but no reason to hurry either
GLOBALPING = "globalping"


def _iso(when: datetime | None) -> str | None:
    from ..monitor import _iso as iso

    return iso(when)


def measured_records(section: DnsSection, records: list[TrackedRecord]) -> list[TrackedRecord]:
    """What the probes are asked: the plan's `records:` names (each of its types), or the first
    name of each `dns.records` entry (probes cost points: one name stands for its pattern)."""
    by_key = {r.key: r for r in records}
    gp = section.vantage.globalping if section.vantage else None
    if gp is not None and gp.records is not None:
        wanted = {n.rstrip(".").lower() for n in gp.records}
        return [r for r in records if r.name in wanted]
    out: list[TrackedRecord] = []
    for entry in section.records:
        names = entry.expanded()
        found = by_key.get(f"{names[0]}/{entry.type}") if names else None
        if found is not None and found not in out:
            out.append(found)
    return out


class VantageMonitor:
    """Every vantage point's view of the measured records."""

    def __init__(
        self,
        section: DnsSection,
        clock: Clock,
        *,
        base: Path | None = None,
        ssh_every: timedelta = SSH_EVERY,
    ) -> None:
        assert section.vantage is not None
        self.vantage = section.vantage
        self.clock = clock
        self.base = base
        self.ssh_every = ssh_every
        self.records = tracked_records(section.records)
        gp = self.vantage.globalping
        self.measured = measured_records(section, self.records)
        self.ssh_records = self.measured
        self.points: dict[str, VantagePoint] = {}
        self.pairs: dict[tuple[str, str], PairState] = {}
        self.faults: dict[str, str] = {}
        self.ledger = BudgetLedger(gp.budget) if gp else None
        self.reuse_id: str | None = None
        self.rounds = 0
        self.spent = 0
        self.last_round_at: datetime | None = None
        self.next_round_at: datetime | None = None
        self.limits: dict[str, Any] | None = None
        self._client: GlobalpingClient | None = None
        for host in self.vantage.ssh_hosts:
            self.points[point_of(host).key] = point_of(host)

    # -- folding ------------------------------------------------------------------------
    def apply(self, point: VantagePoint, record: TrackedRecord, verdict: Verdict) -> None:
        self.points[point.key] = point
        pair = self.pairs.setdefault((point.key, record.key), PairState())
        update_pair(pair, verdict, record.ttl)

    def fault(self, key: str, message: str | None) -> None:
        if message is None:
            self.faults.pop(key, None)
        else:
            self.faults[key] = message

    # -- Globalping ---------------------------------------------------------------------
    @property
    def round_cost(self) -> int:
        gp = self.vantage.globalping
        return gp.probes * len(self.measured) if gp else 0

    def client(self) -> GlobalpingClient:
        if self._client is None:
            gp = self.vantage.globalping
            assert gp is not None
            token = resolve(gp.token, base=self.base) if gp.token else None
            self._client = GlobalpingClient(gp.api, token)
        return self._client

    async def read_limits(self) -> None:
        """`/v1/limits` before scheduling: a budget already spent elsewhere holds rounds back."""
        assert self.ledger is not None
        limits = await self.client().limits()
        self.limits = {
            "type": limits.type,
            "limit": limits.limit,
            "remaining": limits.remaining,
            "reset": limits.reset,
            "credits": limits.credits,
        }
        self.ledger.api_says(self.clock.now(), limits.remaining, limits.reset, self.round_cost)

    async def globalping_round(self) -> None:
        gp = self.vantage.globalping
        assert gp is not None and self.ledger is not None
        try:
            if self.limits is None:
                await self.read_limits()
                if self.ledger.blocked_until and self.ledger.blocked_until > self.clock.now():
                    reset = self.ledger.blocked_until
                    self.fault(GLOBALPING, f"budget spent for this hour: resets at {_iso(reset)}")
                    return
            resolver = None if gp.resolver == "own" else gp.resolver
            locations = [loc.as_api() for loc in gp.locations]
            for record in self.measured:
                measurement = await self._measure(record, locations, resolver)
                self.fold_measurement(measurement, record)
            self.fault(GLOBALPING, None)
        except GlobalpingError as exc:
            now = self.clock.now()
            text = f"{exc.title}: {exc}"
            if exc.params:
                text += " (" + "; ".join(f"{k}: {v}" for k, v in exc.params.items()) + ")"
            if exc.kind == "rate-limited":
                wait = exc.rate.reset or exc.rate.retry_after or 60
                self.ledger.block(now + timedelta(seconds=wait))
                self.limits = None  # read /v1/limits again before the next round
                text += f"; resets at {_iso(now + timedelta(seconds=wait))}"
            self.fault(GLOBALPING, text)
        except SecretUnavailable as exc:
            self.fault(GLOBALPING, f"token unavailable: {exc}")
        finally:
            self.rounds += 1

    async def _measure(
        self, record: TrackedRecord, locations: list[dict[str, Any]], resolver: str | None
    ) -> Measurement:
        client = self.client()
        assert self.ledger is not None
        try:
            measurement = await client.measure(
                record.name, record.rdtype, self.reuse_id or locations, resolver=resolver
            )
        except GlobalpingError as exc:
            if exc.kind != "no-probes" or self.reuse_id is None:
                raise
            # the earlier measurement expired: choose probes again (their history restarts)
            self.reuse_id = None
            measurement = await client.measure(
                record.name, record.rdtype, locations, resolver=resolver
            )
        now = self.clock.now()
        self.ledger.spend(now, measurement.probes_count)
        self.spent += measurement.probes_count
        self.ledger.api_says(now, measurement.rate.remaining, measurement.rate.reset, 0)
        if self.reuse_id is None:
            self.reuse_id = measurement.id
        return measurement

    def fold_measurement(self, measurement: Measurement, record: TrackedRecord) -> int:
        """Each probe's result as a verdict; returns how many were folded."""
        results = measurement.body.get("results")
        if not isinstance(results, list):
            return 0
        now = self.clock.now()
        offline = 0
        for index, item in enumerate(results[:500]):
            if not isinstance(item, dict):
                continue
            probe = item.get("probe") if isinstance(item.get("probe"), dict) else {}
            result = item.get("result") if isinstance(item.get("result"), dict) else {}
            assert isinstance(probe, dict) and isinstance(result, dict)
            verdict, resolver = self._verdict(result, record, now)
            if result.get("status") == "offline":
                offline += 1
            asn = probe.get("asn")
            point = VantagePoint(
                key=f"gp-{index:03d}",
                source=GLOBALPING,
                country=location_text(probe.get("country")),
                city=location_text(probe.get("city")),
                asn=asn if isinstance(asn, int) and not isinstance(asn, bool) else None,
                network=location_text(probe.get("network")),
                continent=location_text(probe.get("continent")),
                resolver=resolver,
            )
            self.apply(point, record, verdict)
        self.fault(
            "globalping:offline",
            f"{offline} probe(s) offline this round (their last answers are kept)"
            if offline
            else None,
        )
        return len(results)

    @staticmethod
    def _verdict(
        result: dict[str, Any], record: TrackedRecord, now: datetime
    ) -> tuple[Verdict, str]:
        status = result.get("status")
        if status == "offline":
            return failure("error", now, "probe offline", None), ""
        if status == "failed":
            raw = location_text(result.get("rawOutput")).strip().splitlines()
            return failure("error", now, f"failed: {raw[0] if raw else ''}"[:200], None), ""
        if status != "finished":
            return failure("timeout", now, "no result yet", None), ""
        hops = result.get("hops")
        final = (
            hops[-1] if isinstance(hops, list) and hops and isinstance(hops[-1], dict) else result
        )
        resolver = location_text(final.get("resolver"))
        timings = final.get("timings")
        total = timings.get("total") if isinstance(timings, dict) else None
        rtt = float(total) if isinstance(total, int | float) else None
        rcode = result.get("statusCodeName")
        if not isinstance(rcode, str):  # a trace: the last hop answered, or it would not be last
            rcode = "NOERROR" if final.get("answers") else "NXDOMAIN"
        answers = answers_from_json(final.get("answers"))
        return classify_answers(answers, record, now, rcode, rtt_ms=rtt), resolver

    # -- SSH hosts ----------------------------------------------------------------------
    async def ssh_round(self) -> None:
        async def one(host: Any) -> None:
            point = point_of(host)
            try:
                verdicts = await ask_host(host, self.ssh_records, self.clock, base=self.base)
            except SshHostError as exc:
                self.fault(point.key, exc.fault.message)
                now = self.clock.now()
                for record in self.ssh_records:
                    self.apply(point, record, failure("error", now, exc.fault.message, None))
                return
            self.fault(point.key, None)
            for record in self.ssh_records:
                if record.key in verdicts:
                    self.apply(point, record, verdicts[record.key])

        await asyncio.gather(*(one(h) for h in self.vantage.ssh_hosts))

    # -- running ------------------------------------------------------------------------
    async def once(self) -> dict[str, Any]:
        """One round of every source (`cutover dns --once`)."""
        rounds = []
        if self.vantage.globalping is not None:
            rounds.append(self.globalping_round())
        if self.vantage.ssh_hosts:
            rounds.append(self.ssh_round())
        try:
            await asyncio.gather(*rounds)
        finally:
            await self.close()
        return self.snapshot()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run(self, stop: asyncio.Event, on_update: Callable[[], None] | None = None) -> None:
        """Rounds by cadence (and budget) until `stop`; `on_update` after each."""

        def updated() -> None:
            if on_update is not None and not stop.is_set():
                on_update()

        async def pause(until: datetime | None) -> None:
            ahead = 60.0 if until is None else (until - self.clock.now()).total_seconds()
            wait = min(max(0.05, real_seconds(self.clock, ahead)), 5.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

        async def globalping_loop() -> None:
            gp = self.vantage.globalping
            assert gp is not None and self.ledger is not None
            last: datetime | None = None
            while not stop.is_set():
                now = self.clock.now()
                due = next_round(last, gp.cadence, self.ledger, self.round_cost, now)
                self.next_round_at = due
                if due is None:  # the plan's check prevents it; a budget lowered by hand can not
                    self.fault(
                        GLOBALPING,
                        f"a round costs {self.round_cost} points, more than the budget of "
                        f"{self.ledger.per_hour} an hour: no round can run",
                    )
                    updated()
                if due is not None and due <= now:
                    last = now
                    self.last_round_at = now
                    await self.globalping_round()
                    updated()
                    continue
                await pause(due)

        async def ssh_loop() -> None:
            while not stop.is_set():
                started = self.clock.now()
                await self.ssh_round()
                updated()
                while not stop.is_set() and self.clock.now() < started + self.ssh_every:
                    await pause(started + self.ssh_every)

        loops = []
        if self.vantage.globalping is not None:
            loops.append(globalping_loop())
        if self.vantage.ssh_hosts:
            loops.append(ssh_loop())
        try:
            await asyncio.gather(*loops)
        finally:
            await self.close()

    # -- reporting ----------------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        """One row per (point, record): the `dns.vantage` payload shape."""
        out = []
        for (point_key, record_key), pair in self.pairs.items():
            verdict = pair.verdict
            if verdict is None:
                continue
            point = self.points[point_key]
            out.append(
                {
                    **point.as_json(),
                    "record": record_key,
                    "status": verdict.status,
                    "answers": verdict.answers,
                    "ttl": verdict.ttl,
                    "observed_at": _iso(verdict.observed_at),
                    "flips_by": _iso(pair_flips_by(pair)),
                    "flags": sorted(pair.flags),
                    "detail": verdict.detail,
                }
            )
        return out

    def snapshot(self) -> dict[str, Any]:
        """The `vantage` section of `cutover dns --json`."""
        now = self.clock.now()
        rows = self.rows()
        answered, new, percent = overall(rows)
        gp = self.vantage.globalping
        return {
            "observed_at": _iso(now),
            "points": rows,
            "by_country": [g.as_json() for g in aggregate(rows, now, "country")],
            "by_asn": [g.as_json() for g in aggregate(rows, now, "asn")],
            "answered": answered,
            "new": new,
            "percent_new": percent,
            "faults": dict(sorted(self.faults.items())),
            "globalping": None
            if gp is None
            else {
                "api": gp.api,
                "probes": gp.probes,
                "records": [r.key for r in self.measured],
                "rounds": self.rounds,
                "spent": self.spent,
                "budget_per_hour": gp.budget,
                "spent_last_hour": self.ledger.in_window(now) if self.ledger else 0,
                "reuse": self.reuse_id,
                "limits": self.limits,
                "next_round": _iso(self.next_round_at),
            },
        }
