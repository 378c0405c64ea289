"""What the lead asks of the comms (`cutover comms send|test|ack`, the console's Comms pane):
run on the journal's thread by the service's operations, like every other journal request."""

from __future__ import annotations

from typing import Any

from ..journal import Event
from ..journal import events as ev
from ..runbook import ActionRefused, Cutover, Refusal
from ..runbook.comms_ledger import CommsLedger
from ..runbook.outbox import queued_payload
from ..timestamps import format_ts


def _refuse(message: str) -> ActionRefused:
    return ActionRefused("send update", None, [Refusal("comms", message)])


def queue_manual(
    cutover: Cutover,
    by: str,
    template: str | None = None,
    audience: str | None = None,
    *,
    test: bool = False,
    no_change: bool = False,
) -> list[Event]:
    """Queue an update now: to `audience` (default: every audience), with `template` (default:
    the first). `no_change`: a "no change since …" update, which counts as the cadence's update;
    `test`: a message marked as a test (it counts for nothing)."""
    plan = cutover.state.plan
    comms = plan.comms
    if comms is None:
        raise _refuse("the plan has no `comms:` section")
    template_id = template or comms.templates[0].id
    if template_id not in {t.id for t in comms.templates}:
        known = ", ".join(t.id for t in comms.templates)
        raise _refuse(f"no template '{template_id[:40]}' (templates: {known})")
    audiences = [a.id for a in comms.audiences]
    if audience is not None and audience not in audiences:
        raise _refuse(f"no audience '{audience[:40]}' (audiences: {', '.join(audiences)})")
    chosen = [audience] if audience else audiences
    ledger = CommsLedger.of(cutover.writer.events()) if no_change else None
    seq = cutover.state.head_seq + 1
    rule = "test" if test else ("no-change" if no_change else "manual")
    text = "Test message" if test else "Update from the lead"
    updates: list[dict[str, Any]] = []
    for name in chosen:
        since = None
        if ledger is not None:
            last = ledger.last_delivered_at(name)
            since = format_ts(last) if last else format_ts(cutover.state.created_at)
            text = "No change since the last update"
        trigger = {"kind": rule, "seq": seq, "text": text}
        updates.append(
            queued_payload(
                plan, seq, rule, name, template_id, trigger, test=test, no_change_since=since
            )
        )
    return cutover.queue_updates(updates, by)


def acknowledge(cutover: Cutover, message: str, target: str, by: str) -> Event:
    """The lead saw that a delivery was abandoned: it leaves the screen."""
    ledger = CommsLedger.of(cutover.writer.events())
    found = ledger.messages.get(message)
    state = found.targets.get(target) if found else None
    if state is None or state.status != "abandoned":
        raise _refuse(f"no abandoned delivery of '{message[:80]}' to target '{target[:20]}'")
    if state.acknowledged_by:
        raise _refuse(f"already acknowledged by {state.acknowledged_by}")
    cutover._person("acknowledge", None, by)
    return cutover.record_comms(ev.COMMS_ACKNOWLEDGED, {"message": message, "target": target}, by)
