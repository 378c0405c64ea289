"""What the headless demo checks of the stakeholder updates, from the journal alone: every
decision's update reached every target, except the support desk's hook that fails on purpose
(its deliveries must have been retried and abandoned, the failure handled)."""

from __future__ import annotations

from pathlib import Path

from ..journal import JournalReader
from ..runbook.comms_ledger import CommsLedger

BROKEN_CHANNEL = "file:comms/support-desk.url"  # rehearsal/inboxes.py BROKEN_PATH
DECISIONS = frozenset(
    {
        "go_no_go",
        "step_done",
        "point_of_no_return",
        "rollback_started",
        "step_failed",
        "gate_overridden",
        "cutover_finished",
        "comms_step",
        "dns_flipped",
        "stragglers_drained",
    }
)


def ledger_of(journal: Path) -> CommsLedger:
    with JournalReader(journal) as reader:
        return CommsLedger.of(reader.events())


def settled(journal: Path) -> bool:
    """Every queued update delivered or abandoned, to every target."""
    return all(m.settled for m in ledger_of(journal).messages.values())


# the decisions every headless demo goes through (it never fails a step nor rolls back)
EXPECTED = ("go_no_go", "step_done", "dns_flipped", "stragglers_drained", "point_of_no_return",
            "cutover_finished")  # fmt: skip


def comms_checks(journal: Path) -> dict[str, tuple[bool, str]]:
    ledger = ledger_of(journal)
    decisions = [m for m in ledger.messages.values() if m.trigger.get("kind") in DECISIONS]
    targets = [(m, t) for m in decisions for t in m.targets.values()]
    missing = [
        f"{m.rule} to {m.audience} ({t.status})"
        for m, t in targets
        if t.channel != BROKEN_CHANNEL and t.status != "delivered"
    ]
    on_purpose = [t for _m, t in targets if t.channel == BROKEN_CHANNEL]
    handled = bool(on_purpose) and all(t.status == "abandoned" for t in on_purpose)
    scheduled = sum(1 for m in ledger.messages.values() if m.trigger.get("kind") == "every")
    if not decisions:
        return {"decision updates delivered": (False, "no decision update was queued")}
    fired = {m.trigger.get("kind") for m in decisions}
    missing += [f"no update at {kind}" for kind in EXPECTED if kind not in fired]
    return {
        "decision updates delivered": (
            not missing,
            f"{len(decisions)} update(s) at decisions, every target delivered (+{scheduled} hourly)"
            if not missing
            else f"not delivered: {', '.join(missing[:6])}",
        ),
        "failing target handled": (
            handled,
            f"the support desk's hook failed on purpose: {len(on_purpose)} delivery(ies) "
            "retried, then abandoned"
            if handled
            else "the support desk's deliveries were not abandoned as expected",
        ),
    }
