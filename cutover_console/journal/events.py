"""Event kinds and their payload versions. Old versions are upgraded on read, never rewritten."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JOURNAL_CREATED = "journal.created"
JOURNAL_RECOVERED = "journal.recovered"
PLAN_REVISED = "plan.revised"
STEP_STARTED = "step.started"
STEP_COMPLETED = "step.completed"
STEP_FAILED = "step.failed"
STEP_SKIPPED = "step.skipped"
STEP_REOPENED = "step.reopened"
STEP_ROLLED_BACK = "step.rolled_back"
STEP_SIGNED_OFF = "step.signed_off"
NOTE_ADDED = "note.added"
GATE_EVALUATED = "gate.evaluated"
GATE_OVERRIDDEN = "gate.overridden"
DNS_VERDICT = "dns.verdict"  # a resolver's verdict (or flags) for a record changed
DNS_RECORD = "dns.record"  # a record's percent new or flip ETA moved
DNS_AUTHORITY = "dns.authority"  # what the authorities serve (status, TTL, serials) changed
DNS_VANTAGE = "dns.vantage"  # a probe's or SSH vantage host's verdict for a record changed
DNS_VANTAGE_FAULT = "dns.vantage_fault"  # a vantage source failing (429, host down…) or fine again
FLOW_STATE = "flow.state"  # a flow side's status (healthy, late, dead, failing…) changed
FLOW_SITE = "flow.site"  # a site's status (moved, straggler, silent…) changed
RECONCILE_RESULT = "reconcile.result"  # an old/new comparison's outcome changed
WATCHER_CONNECTED = "watcher.connected"  # a teammate started watching over SSH
WATCHER_DISCONNECTED = "watcher.disconnected"
ACTION_RAN = "action.ran"  # a step's automated action ran (what, exit status, output tail)
ARCHIVE_PUBLISHED = "archive.published"  # checkpoints (and segments) reached the witness
ARCHIVE_FAULT = "archive.fault"  # publishing to the witness failed, or works again
# Stakeholder updates (cutover_console/comms): the outbox and each target's delivery
COMMS_QUEUED = "comms.queued"  # an update to send, journaled with the decision that caused it
COMMS_RENDERED = "comms.rendered"  # its exact text, per channel format, before the first attempt
COMMS_ATTEMPT = "comms.attempt"  # one target is being sent to (journaled before it is)
COMMS_DELIVERED = "comms.delivered"  # the target's server accepted it (its reply)
COMMS_FAILED = "comms.failed"  # an attempt failed (the reason, and when it is tried again)
COMMS_ABANDONED = "comms.abandoned"  # the last retry failed: shown until acknowledged
COMMS_ACKNOWLEDGED = "comms.acknowledged"  # the lead saw an abandoned delivery
COMMS_OVERDUE = "comms.overdue"  # a cadence update is late (once per gap)

# The payload version each kind is written with today. Bump it when a payload changes shape, and
# register an upgrader from the previous version so that old journals still fold.
CURRENT_VERSION: dict[str, int] = {
    kind: 1
    for kind in (
        JOURNAL_CREATED,
        JOURNAL_RECOVERED,
        PLAN_REVISED,
        STEP_STARTED,
        STEP_COMPLETED,
        STEP_FAILED,
        STEP_SKIPPED,
        STEP_REOPENED,
        STEP_ROLLED_BACK,
        STEP_SIGNED_OFF,
        NOTE_ADDED,
        GATE_EVALUATED,
        GATE_OVERRIDDEN,
    )
}

# Decisions: what people decided (and the journal's own life). The writer checkpoints the WAL into
# the main file right after each of these, so a damaged WAL cannot take one with it.
DECISIONS: frozenset[str] = frozenset(
    {
        JOURNAL_CREATED,
        JOURNAL_RECOVERED,
        PLAN_REVISED,
        STEP_STARTED,
        STEP_COMPLETED,
        STEP_FAILED,
        STEP_SKIPPED,
        STEP_REOPENED,
        STEP_ROLLED_BACK,
        STEP_SIGNED_OFF,
        GATE_OVERRIDDEN,
        ACTION_RAN,
    }
)

# Payload keys the fold and the reports index without a default. A stored payload without them (a
# damaged or hand-made row) is refused on read, naming its event, instead of a KeyError in a view.
REQUIRED: dict[str, tuple[str, ...]] = {
    JOURNAL_CREATED: ("plan",),
    PLAN_REVISED: ("plan",),
    GATE_EVALUATED: ("gate",),
    GATE_OVERRIDDEN: ("gate",),
    DNS_VERDICT: ("record", "resolver"),
    DNS_RECORD: ("record",),
    DNS_AUTHORITY: ("record",),
    DNS_VANTAGE: ("record", "point"),
    DNS_VANTAGE_FAULT: ("fault",),
    FLOW_STATE: ("flow", "side", "status"),
    FLOW_SITE: ("flow", "site", "status"),
    RECONCILE_RESULT: ("reconciliation", "status"),
}


def payload_problem(kind: str, payload: dict[str, Any]) -> str | None:
    """What is wrong with a (version-upgraded) payload for the fold, or None."""
    for key in REQUIRED.get(kind, ()):
        value = payload.get(key)
        if key == "plan":
            if not (
                type(value) is dict
                and type(value.get("text")) is str
                and type(value.get("sha256")) is str
            ):
                return "its payload has no plan (text and sha256)"
        elif type(value) is not str and type(value) is not int:  # a name: hashable, printable
            return f"its payload has no '{key}'" if value is None else f"its '{key}' is not a name"
    if "overrides" in payload and type(payload["overrides"]) is not list:
        return "its 'overrides' is not a list"
    if "evidence" in payload and type(payload["evidence"]) is not dict:
        return "its 'evidence' is not a mapping"
    return None


Upgrader = Callable[[dict[str, Any]], dict[str, Any]]
_UPGRADERS: dict[tuple[str, int], Upgrader] = {}


def register_upgrader(kind: str, from_version: int) -> Callable[[Upgrader], Upgrader]:
    """Decorator: `fn(payload_v{n}) -> payload_v{n+1}` for one kind."""

    def wrap(fn: Upgrader) -> Upgrader:
        _UPGRADERS[(kind, from_version)] = fn
        return fn

    return wrap


def needs_upgrade(kind: str, version: int) -> bool:
    return (kind, version) in _UPGRADERS


def upgrade(kind: str, version: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Bring a stored payload up to the version the fold understands."""
    while (kind, version) in _UPGRADERS:
        payload = _UPGRADERS[(kind, version)](payload)
        version += 1
    return version, payload


def version_for(kind: str) -> int:
    return CURRENT_VERSION.get(kind, 1)
