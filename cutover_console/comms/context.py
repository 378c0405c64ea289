"""What a template's fields hold: the status summary of the cutover (as `cutover status` prints
it), flattened to the names in plan/comms.py TEMPLATE_FIELDS."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..plan.comms import TEMPLATE_FIELDS
from ..runbook import CutoverState, status_summary

_NEXT_SHOWN = 3


def _hhmm(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).strftime("%a %H:%M")
    except ValueError:
        return iso


def template_context(state: CutoverState, now: datetime, queued: dict[str, Any]) -> dict[str, Any]:
    """Every TEMPLATE_FIELDS value for the update `queued` (a comms.queued payload)."""
    summary = status_summary(state, now)
    steps = summary["steps"]
    titles = {s["id"]: s["title"] for s in steps}
    running = [s["title"] for s in steps if s["status"] == "in_progress"]
    pending = sorted(
        (s for s in steps if s["status"] == "pending"), key=lambda s: s["forecast_start"] or ""
    )
    records = state.signals.dns_records.values()
    percents = [float(r["percent_new"]) for r in records if r.get("percent_new") is not None]
    sites = state.signals.flow_sites.values()
    on_new = sum(1 for s in sites if s.get("status") == "moved")
    ponr = summary["point_of_no_return"] or {}
    trigger = queued.get("trigger") or {}
    step_id = trigger.get("step")
    head = summary["head"] or {}
    audience = queued.get("audience", "")
    plan = state.plan
    if plan.comms is not None:
        found = [a for a in plan.comms.audiences if a.id == audience]
        audience = (found[0].name or found[0].id) if found else audience
    context = {
        "cutover": plan.cutover.name,
        "client": plan.cutover.client,
        "now": _hhmm(summary["now"]),
        "done": summary["progress"]["finished"],
        "total": summary["progress"]["total"],
        "in_progress": ", ".join(running) or "none",
        "next": ", ".join(s["title"] for s in pending[:_NEXT_SHOWN]) or "none",
        "dns_percent_new": f"{min(percents):.0f}" if percents else "n/a",
        "sites_on_old": len(sites) - on_new,
        "sites_on_new": on_new,
        "forecast_end": _hhmm(summary["forecast_end"]),
        "window_end": _hhmm(summary["cutover"]["window"]["end"]),
        "fits_window": "yes" if summary["fits_window"] else "no",
        "rollback_possible_until": "passed"
        if ponr.get("passed_at")
        else _hhmm(ponr.get("rollback_possible_until")) or "n/a",
        "checkpoint": f"{head.get('seq', 0)}:{str(head.get('hash', ''))[:16]}",
        "trigger": trigger.get("text", ""),
        "step": titles.get(step_id, "") if step_id else "",
        "audience": audience,
        "message_id": queued.get("message", ""),
        "no_change_since": _hhmm(queued.get("no_change_since")),
    }
    assert set(context) == set(TEMPLATE_FIELDS)
    return context
