"""The outbox: which stakeholder updates a decision causes, journaled in the decision's own
transaction (`comms.queued`), so that no decision is recorded without its update, and no update
is queued for a decision that was not recorded. Sending is the comms engine's job.

A queued update names its message id, rule, audience, template, what triggered it and its
targets: one per channel, by a stable id and the channel's reference (`env:NAME`, never the URL).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..journal import events as ev
from ..plan.model import Plan, Step
from .fold import CutoverState

FINISHED = ("done", "skipped")


def target_id(audience: str, channel: str) -> str:
    """A stable id of one channel of one audience (the same in every journal of the plan)."""
    return hashlib.sha256(f"{audience}\n{channel}".encode()).hexdigest()[:12]


def message_id(plan: Plan, seq: int, rule: str, audience: str) -> str:
    """Unique in the journal and across cutovers; receivers drop duplicates by it."""
    return f"{plan.cutover.id}.{seq}.{rule}.{audience}"


def queued_payload(
    plan: Plan,
    seq: int,
    rule: str,
    audience: str,
    template: str,
    trigger: dict[str, Any],
    *,
    test: bool = False,
    no_change_since: str | None = None,
) -> dict[str, Any]:
    assert plan.comms is not None
    channels = plan.comms.audience(audience).channels
    payload: dict[str, Any] = {
        "message": message_id(plan, seq, rule, audience),
        "rule": rule,
        "audience": audience,
        "template": template,
        "trigger": trigger,
        "targets": [{"target": target_id(audience, c), "channel": c} for c in channels],
    }
    if test:
        payload["test"] = True
    if no_change_since:
        payload["no_change_since"] = no_change_since
    return payload


def _triggers(state: CutoverState, kind: str, step: Step | None) -> list[tuple[str, str]]:
    """(trigger, a sentence saying what happened) for one decision about to be journaled."""
    title = step.title if step is not None else ""
    out: list[tuple[str, str]] = []
    if kind == ev.STEP_COMPLETED and step is not None:
        if step.kind == "go_no_go":
            out.append(("go_no_go", f"Go/no-go decided: GO ({title})"))
        if step.point_of_no_return:
            out.append(("point_of_no_return", f"Point of no return passed ({title})"))
        out.append(("step_done", f"Done: {title}"))
    elif kind == ev.STEP_FAILED and step is not None:
        if step.kind == "go_no_go":
            out.append(("go_no_go", f"Go/no-go decided: NO-GO ({title})"))
        out.append(("step_failed", f"Step failed: {title}"))
    elif kind == ev.STEP_ROLLED_BACK and step is not None:
        out.append(("rollback_started", f"Rollback started: {title}"))
    elif kind == ev.GATE_OVERRIDDEN and step is not None:
        out.append(("gate_overridden", f"Gate overridden on: {title}"))
    if kind in (ev.STEP_COMPLETED, ev.STEP_SKIPPED) and step is not None:
        others = (s for sid, s in state.steps.items() if sid != step.id)
        if all(s.status in FINISHED for s in others):
            out.append(("cutover_finished", "The cutover is finished"))
    return out


def decision_updates(
    state: CutoverState, kind: str, step_id: str | None, seq: int
) -> list[dict[str, Any]]:
    """The `comms.queued` payloads that the decision `kind` on `step_id`, about to be journaled
    as event `seq`, causes (none when the plan has no `comms:`)."""
    plan = state.plan
    if plan.comms is None or kind not in ev.DECISIONS:
        return []
    try:
        step = plan.step(step_id) if step_id else None
    except KeyError:
        return []
    out: list[dict[str, Any]] = []
    for trigger, text in _triggers(state, kind, step):
        for rule in plan.comms.updates:
            if rule.on != trigger or (trigger == "step_done" and rule.step != step_id):
                continue
            about = {"kind": trigger, "seq": seq, "text": text, "step": step_id}
            for audience in rule.audiences:
                out.append(queued_payload(plan, seq, rule.id, audience, rule.template, about))
    if kind == ev.STEP_COMPLETED and step is not None and step.comms is not None:
        about = {"kind": "comms_step", "seq": seq, "text": step.title, "step": step_id}
        for audience in step.comms.audiences:
            rule_id = f"step-{step.id}"
            out.append(queued_payload(plan, seq, rule_id, audience, step.comms.template, about))
    return out


def signal_updates(
    state: CutoverState, items: list[tuple[str, dict[str, Any], Any, str | None]]
) -> list[dict[str, Any]]:
    """The `comms.queued` payloads that an engine's batch of observations causes, judged as a
    transition from the state before the batch to the state after it (so a restarted service,
    whose state already shows the flip, never queues it again)."""
    plan = state.plan
    if plan.comms is None or not items:
        return []
    wanted = {r.on for r in plan.comms.updates}
    seq = state.head_seq + len(items)  # the batch's last event
    fired: list[tuple[str, str]] = []
    signals = state.signals
    kinds = {k for k, _p, _a, _s in items}
    if "dns_flipped" in wanted and ev.DNS_RECORD in kinds and plan.dns and plan.dns.records:
        after = dict(signals.dns_records)
        after.update({p["record"]: p for k, p, _a, _s in items if k == ev.DNS_RECORD})
        expected = {f"{n}/{r.type}" for r in plan.dns.records for n in r.expanded()}

        def flipped(records: dict[str, dict[str, Any]]) -> bool:
            return set(records) >= expected and all(
                records[name].get("percent_new") == 100 for name in expected
            )

        if flipped(after) and not flipped(signals.dns_records):
            fired.append(("dns_flipped", "Every resolver answers the new address"))
    if (
        "stragglers_drained" in wanted
        and ev.FLOW_SITE in kinds
        and state.dns_switched_at() is not None
    ):
        after_sites = dict(signals.flow_sites)
        after_sites.update(
            {(p["flow"], p["site"]): p for k, p, _a, _s in items if k == ev.FLOW_SITE}
        )

        def straggling(sites: dict[tuple[str, str], dict[str, Any]]) -> bool:
            return any(p.get("status") == "straggler" for p in sites.values())

        if straggling(signals.flow_sites) and not straggling(after_sites):
            fired.append(("stragglers_drained", "The last straggling site left the old side"))
    out: list[dict[str, Any]] = []
    for trigger, text in fired:
        for rule in plan.comms.updates:
            if rule.on == trigger:
                about = {"kind": trigger, "seq": seq, "text": text}
                for audience in rule.audiences:
                    out.append(queued_payload(plan, seq, rule.id, audience, rule.template, about))
    return out
