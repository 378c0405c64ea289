"""Where the cutover stands: one plain dict that the status command, reports and views share."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from ..plan.schedule import planned
from .fold import FINISHED, CutoverState
from .rules import completion_blockers, start_blockers

# How each step status is shown (Rich style names), the same in the CLI and the console.
STATUS_STYLE = {
    "pending": "dim",
    "in_progress": "bold yellow",
    "done": "green",
    "failed": "bold red",
    "skipped": "magenta",
    "rolled_back": "bold red",
}


def _iso(when: datetime | None, zone: tzinfo) -> str | None:
    """ISO 8601 in the client's zone: what people on the bridge call read."""
    return when.astimezone(zone).isoformat() if when is not None else None


def step_blockers(state: CutoverState, step_id: str, now: datetime) -> list[str]:
    """What keeps a step from moving on: to start (pending) or to complete (in progress)."""
    step = state.plan.step(step_id)
    current = state.steps[step_id]
    if current.status == "pending":
        return [r.message for r in start_blockers(state, step, now)]
    if current.status == "in_progress":
        return [r.message for r in completion_blockers(state, step)]
    return []


def status_summary(state: CutoverState, now: datetime) -> dict[str, Any]:
    """Everything `cutover status --json` prints. Times are ISO 8601 with offsets."""
    plan = state.plan
    zone = plan.zone
    base = planned(plan)
    forecast = state.schedule(now)
    done, total = state.progress()
    ponr_step = next((s for s in plan.steps if s.point_of_no_return), None)
    ponr: dict[str, Any] | None = None
    if ponr_step is not None:
        ponr = {
            "step": ponr_step.id,
            "passed_at": _iso(state.point_of_no_return_at, zone),
            "rollback_possible_until": None
            if state.point_of_no_return_at
            else _iso(forecast.slots[ponr_step.id].start, zone),
        }
    steps = []
    for step in plan.steps:
        current = state.steps[step.id]
        slot, base_slot = forecast.slots[step.id], base.slots[step.id]
        delay = None
        if current.started_at is not None:
            delay = (current.started_at - base_slot.start).total_seconds()
        elif current.status not in FINISHED:
            delay = (slot.start - base_slot.start).total_seconds()
        overrun = (
            current.status == "in_progress"
            and current.started_at is not None
            and now - current.started_at > step.duration
        )
        steps.append(
            {
                "id": step.id,
                "title": step.title,
                "phase": step.phase,
                "owner": step.owner,
                "kind": step.kind,
                "status": current.status,
                "planned_start": _iso(base_slot.start, zone),
                "planned_end": _iso(base_slot.end, zone),
                "forecast_start": _iso(slot.start, zone),
                "forecast_end": _iso(slot.end, zone),
                "actual_start": _iso(current.started_at, zone),
                "actual_end": _iso(current.ended_at, zone),
                "started_by": current.started_by,
                "ended_by": current.ended_by,
                "delay_s": delay,
                "overrun": overrun,
                "reason": current.reason or None,
                "blockers": step_blockers(state, step.id, now),
                "signoffs": [
                    {"person": s.person, "role": s.role, "at": _iso(s.at, zone)}
                    for s in current.signoffs
                ],
                "gates": [
                    {
                        "id": g.id,
                        "ok": g.ok,
                        "detail": g.detail,
                        "overridden": g.overridden_by is not None,
                    }
                    for g in current.gates.values()
                ],
                "point_of_no_return": step.point_of_no_return,
            }
        )
    return {
        "cutover": {
            "id": plan.cutover.id,
            "name": plan.cutover.name,
            "client": plan.cutover.client,
            "timezone": plan.cutover.timezone,
            "rehearsal": state.rehearsal,
            "mode": state.mode,
            "window": {
                "start": _iso(plan.cutover.window.start, zone),
                "end": _iso(plan.cutover.window.end, zone),
            },
            "plan_sha256": state.document.sha256,
        },
        "now": _iso(now, zone),
        "head": {"seq": state.head.seq, "hash": state.head.hash} if state.head else None,
        "progress": {
            "finished": done,
            "total": total,
            "in_progress": [s["id"] for s in steps if s["status"] == "in_progress"],
        },
        "planned_end": _iso(base.end, zone),
        "forecast_end": _iso(forecast.end, zone),
        "critical_path": forecast.critical_path(),
        "fits_window": forecast.end <= plan.cutover.window.end,
        "point_of_no_return": ponr,
        "overrides": len(state.overrides),
        "recoveries": len(state.recoveries),
        "revisions": len(state.revisions),
        "archive": _archive(state),
        # events in the chain whose payload does not fit their kind: named, not folded in
        "malformed": [m.describe() for m in state.malformed],
        "steps": steps,
    }


def _archive(state: CutoverState) -> dict[str, Any] | None:
    """The witness as journaled: the latest published checkpoint and the current fault."""
    a = state.archive
    if not a.location:
        return None
    return {
        "location": a.location,
        "latest_checkpoint": a.latest or None,
        "published_at": a.latest_at or None,
        "published": a.published,
        "archived_seq": a.archived_seq,
        "fault": a.fault or None,
        "fault_detail": a.fault_detail or None,
        "fault_since": a.fault_at.isoformat() if a.fault_at else None,
    }
