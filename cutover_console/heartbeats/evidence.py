"""Flow gates: what the heartbeats prove for a step."""

from __future__ import annotations

from typing import Any

from ..plan.model import Gate
from .flows import FlowMonitor

FLOW_GATES = ("flow_healthy", "flow_drained", "sites_on_new", "reconciliation", "probe_ok")


def gate_verdict(monitor: FlowMonitor, gate: Gate) -> tuple[bool, str, dict[str, Any]]:
    """(ok, detail, evidence) for one flow gate."""
    if gate.check == "reconciliation":
        assert gate.reconciliation is not None
        result = monitor.reconciliations[gate.reconciliation].result
        if result is None:
            return False, "not compared yet", {}
        return result["status"] == "match", f"{gate.reconciliation}: {result['status']}", result
    assert gate.flow is not None
    flow = monitor.flows[gate.flow]
    if gate.check == "flow_healthy":
        status = monitor.flow_status(gate.flow, gate.side)
        last = flow.sides[gate.side].last_seen if gate.side in flow.sides else None
        return (
            status == "healthy",
            f"{gate.flow} ({gate.side}) is {status}",
            {"status": status, "last_seen": last.isoformat() if last else None},
        )
    if gate.check == "flow_drained":
        assert gate.minutes is not None
        drained = monitor.drained_for(gate.flow)
        need = gate.minutes * 60
        if drained is None:
            return False, "no switch recorded yet, or the old side cannot be read", {}
        ok = drained >= need
        return (
            ok,
            (f"no old-side arrival for {int(drained // 60)} min (need {gate.minutes})"),
            {"drained_s": drained, "need_s": need},
        )
    if gate.check == "sites_on_new":
        statuses = monitor.site_statuses(gate.flow)
        missing = sorted(s for s, st in statuses.items() if flow.sites[s].first_new is None)
        stragglers = sorted(s for s, st in statuses.items() if st == "straggler")
        ok = bool(statuses) and not missing
        detail = (
            f"all {len(statuses)} sites seen on the new side"
            if ok
            else f"{len(missing)} of {len(statuses)} sites not seen on new yet"
        )
        return (
            ok,
            detail,
            {"missing": missing[:50], "stragglers": stragglers[:50], "sites": len(statuses)},
        )
    # probe_ok: the side whose probe has that id
    for side, state in flow.sides.items():
        spec = getattr(flow.flow, side)
        if spec is not None and spec.id == gate.probe:
            reading = state.reading
            ok = bool(reading and reading.ok)
            return (
                ok,
                f"{gate.probe}: {reading.detail if reading else 'not read yet'}",
                {"side": side, "reading": reading.as_json() if reading else None},
            )
    return False, f"no probe {gate.probe}", {}
