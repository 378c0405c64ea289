"""Data-flow heartbeats: per flow and per site, when data last arrived on the old side and on the
new side, which flows are late or dead, which sites straggle, and whether old and new agree.

One poll per source at a time (a slow source never piles up reads), each on its own cadence.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from ..clock import Clock, real_seconds
from ..plan.model import Flow, Plan, Probe, Reconciliation
from .reading import Reading, iso
from .sources import Source, build_source

Side = Literal["old", "new"]
FlowStatus = Literal["healthy", "late", "dead", "failing", "no data", "unknown"]
SiteStatus = Literal["moved", "straggler", "on old", "on new", "silent"]


@dataclass
class SideState:
    source: Source
    reading: Reading | None = None
    last_ok: Reading | None = None
    busy: bool = False

    def status(self, flow: Flow, now: datetime) -> FlowStatus:
        if self.reading is None:
            return "unknown"
        if not self.reading.ok:
            return "failing"
        last = self.last_seen
        if last is None:
            return "no data"
        silence = now - last
        if flow.dead_after is not None and silence > flow.dead_after:
            return "dead"
        if silence > flow.late_after:
            return "late"
        return "healthy"

    @property
    def last_seen(self) -> datetime | None:
        return self.last_ok.last_seen if self.last_ok is not None else None


@dataclass
class SiteState:
    last_old: datetime | None = None
    first_new: datetime | None = None
    last_new: datetime | None = None
    count_old: int | None = None
    count_new: int | None = None

    def status(
        self, switch_at: datetime | None, late_after: timedelta, now: datetime
    ) -> SiteStatus:
        newest = max((t for t in (self.last_old, self.last_new) if t is not None), default=None)
        if newest is None or now - newest > late_after:
            return "silent"
        if switch_at is not None and self.last_old is not None and self.last_old > switch_at:
            if self.last_new is None or self.last_new < self.last_old:
                return "straggler"  # still sending to the old side after the switch
            return "moved"  # straggled, then reached the new side
        if self.first_new is not None:
            return "moved" if self.last_old is not None else "on new"
        return "on old"


@dataclass
class FlowState:
    flow: Flow
    sides: dict[Side, SideState] = field(default_factory=dict)
    sites: dict[str, SiteState] = field(default_factory=dict)


@dataclass
class ReconciliationState:
    spec: Reconciliation
    old: Source
    new: Source
    result: dict[str, Any] | None = None


def _params(probe: Probe) -> dict[str, Any]:
    """A probe's own parameters (everything but its kind and id)."""
    return {k: v for k, v in probe.model_dump(exclude={"kind", "id"}).items() if v is not None}


class FlowMonitor:
    """Polls every flow's sources and keeps per-flow, per-site state."""

    def __init__(
        self,
        plan: Plan,
        clock: Clock,
        *,
        base: Path | None = None,
        switch_at: Callable[[], datetime | None] | None = None,
    ) -> None:
        self.plan = plan
        self.clock = clock
        self.flows: dict[str, FlowState] = {}
        for flow in plan.flows:
            state = FlowState(flow)
            for side in ("old", "new"):
                probe = getattr(flow, side)
                if probe is not None:
                    state.sides[side] = SideState(
                        build_source(
                            f"{flow.id}/{side}",
                            probe.kind,
                            _params(probe),
                            clock,
                            sites=flow.sites,
                            base=base,
                        )
                    )
            self.flows[flow.id] = state
        self.reconciliations: dict[str, ReconciliationState] = {}
        for spec in plan.reconcile:
            old, new = (
                build_source(spec.id, probe.kind, _params(probe), clock, sites=False, base=base)
                for probe in (spec.old, spec.new)
            )
            self.reconciliations[spec.id] = ReconciliationState(spec, old, new)
        self._inflight: set[asyncio.Task[None]] = set()
        self._switch_at = switch_at or (lambda: plan.dns.switch_at if plan.dns else None)

    @property
    def switch_at(self) -> datetime | None:
        when = self._switch_at()
        return when if when is not None and when <= self.clock.now() else None

    # -- polling -------------------------------------------------------------------------
    async def poll_side(self, flow_id: str, side: Side) -> None:
        state = self.flows[flow_id]
        side_state = state.sides[side]
        if side_state.busy:  # the previous read of this source is still out
            return
        side_state.busy = True
        try:
            reading = await side_state.source.read(self.clock)
        finally:
            side_state.busy = False
        self._apply(state, side, reading)

    def _apply(self, state: FlowState, side: Side, reading: Reading) -> None:
        side_state = state.sides[side]
        side_state.reading = reading
        if reading.ok:
            side_state.last_ok = reading
        for site, seen in (reading.sites or {}).items():
            entry = state.sites.setdefault(site, SiteState())
            if side == "old":
                if entry.last_old is None or seen.last_seen > entry.last_old:
                    entry.last_old, entry.count_old = seen.last_seen, seen.count
            else:
                if entry.first_new is None or seen.last_seen < entry.first_new:
                    entry.first_new = seen.last_seen
                if entry.last_new is None or seen.last_seen > entry.last_new:
                    entry.last_new, entry.count_new = seen.last_seen, seen.count

    async def poll_reconciliation(self, rec_id: str) -> None:
        rec = self.reconciliations[rec_id]
        old, new = await asyncio.gather(rec.old.read(self.clock), rec.new.read(self.clock))
        if not old.ok or not new.ok:
            failed = old if not old.ok else new
            rec.result = {"status": "failed", "detail": failed.detail, "at": iso(self.clock.now())}
            return
        # rows compared as sets of text: drivers differ in types (Decimal vs float, int widths)
        only_old = [row for row in old.values if row not in new.values]
        only_new = [row for row in new.values if row not in old.values]
        rec.result = {
            "status": "mismatch" if only_old or only_new else "match",
            "rows": len(old.values),
            "only_old": only_old[:20],
            "only_new": only_new[:20],
            "at": iso(self.clock.now()),
        }

    async def poll_all(self) -> None:
        """Every source and reconciliation once, concurrently."""
        await asyncio.gather(
            *(self.poll_side(f, s) for f, st in self.flows.items() for s in st.sides),
            *(self.poll_reconciliation(r) for r in self.reconciliations),
        )

    async def run(
        self,
        stop: asyncio.Event,
        on_update: Callable[[], None] | None = None,
        reconcile_every: timedelta = timedelta(minutes=5),
    ) -> None:
        """Each flow on its own cadence (`every`), reconciliations every few minutes."""
        tasks = [
            asyncio.create_task(self._loop(stop, f, s, st.flow.every, on_update))
            for f, st in self.flows.items()
            for s in st.sides
        ]
        tasks += [
            asyncio.create_task(self._reconcile_loop(stop, r, reconcile_every, on_update))
            for r in self.reconciliations
        ]
        await stop.wait()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(
        self,
        stop: asyncio.Event,
        flow_id: str,
        side: Side,
        every: timedelta,
        on_update: Callable[[], None] | None,
    ) -> None:
        while not stop.is_set():
            # Started, not awaited: the cadence holds even when a read is slow (poll_side skips
            # a source whose previous read is still out).
            task = asyncio.create_task(self._poll_and_notify(flow_id, side, on_update))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), real_seconds(self.clock, every.total_seconds()))

    async def _poll_and_notify(
        self, flow_id: str, side: Side, on_update: Callable[[], None] | None
    ) -> None:
        await self.poll_side(flow_id, side)
        if on_update is not None:
            on_update()

    async def _reconcile_loop(
        self,
        stop: asyncio.Event,
        rec_id: str,
        every: timedelta,
        on_update: Callable[[], None] | None,
    ) -> None:
        while not stop.is_set():
            await self.poll_reconciliation(rec_id)
            if on_update is not None:
                on_update()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), real_seconds(self.clock, every.total_seconds()))

    # -- views ---------------------------------------------------------------------------
    def flow_status(self, flow_id: str, side: Side) -> FlowStatus:
        state = self.flows[flow_id]
        side_state = state.sides.get(side)
        return side_state.status(state.flow, self.clock.now()) if side_state else "unknown"

    def drained_for(self, flow_id: str) -> float | None:
        """Seconds without an old-side arrival since the switch (None before the switch, or when
        the old side cannot be read: silence you cannot observe is not evidence)."""
        switch = self.switch_at
        old = self.flows[flow_id].sides.get("old")
        if switch is None or old is None or old.reading is None or not old.reading.ok:
            return None
        since = max(switch, old.last_seen) if old.last_seen else switch
        return max(0.0, (self.clock.now() - since).total_seconds())

    def site_statuses(self, flow_id: str) -> dict[str, SiteStatus]:
        state = self.flows[flow_id]
        now, switch = self.clock.now(), self.switch_at
        late = state.flow.late_after
        return {site: s.status(switch, late, now) for site, s in state.sites.items()}

    def snapshot(self) -> dict[str, Any]:
        """The `cutover flows --json` document (see the README for the schema)."""
        now = self.clock.now()
        flows = []
        for flow_id, state in self.flows.items():
            sides = {}
            for side, side_state in state.sides.items():
                reading = side_state.reading
                sides[side] = {
                    "kind": side_state.source.kind,
                    "status": side_state.status(state.flow, now),
                    "last_seen": iso(side_state.last_seen),
                    "silence_s": int((now - side_state.last_seen).total_seconds())
                    if side_state.last_seen
                    else None,
                    "reading": reading.as_json() if reading else None,
                }
            statuses = self.site_statuses(flow_id)
            counts: dict[str, int] = {}
            for status in statuses.values():
                counts[status] = counts.get(status, 0) + 1
            flows.append(
                {
                    "id": flow_id,
                    "title": state.flow.title,
                    "system": state.flow.system,
                    "late_after_s": state.flow.late_after.total_seconds(),
                    "sides": sides,
                    "drained_for_s": self.drained_for(flow_id),
                    "sites": {
                        "counts": counts,
                        "stragglers": sorted(s for s, st in statuses.items() if st == "straggler"),
                        "detail": {
                            site: {
                                "status": statuses[site],
                                "last_old": iso(s.last_old),
                                "first_new": iso(s.first_new),
                                "last_new": iso(s.last_new),
                            }
                            for site, s in sorted(state.sites.items())
                        },
                    }
                    if state.flow.sites
                    else None,
                }
            )
        return {
            "observed_at": iso(now),
            "switch_at": iso(self.switch_at),
            "flows": flows,
            "reconciliations": {rid: r.result for rid, r in self.reconciliations.items()},
        }
