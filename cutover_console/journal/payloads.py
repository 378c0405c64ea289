"""One schema per event kind: the payload fields the fold, the reports and the views read, with
their types, and the names a payload may not carry.

Used on both sides of the journal. Before anything is journaled (the journal service's requests,
a direct write, the engines), a payload that does not fit its kind is refused with a sentence.
When a journal is read, an event whose payload does not fit (written by an older version, a tool,
a bug: it is in the chain for good) is kept in its place, named as malformed, and not folded in,
so that no view shows a value it smuggled in or breaks on it.

Fields a schema does not name are allowed (a later version adds fields; an engine's evidence is
open), except the reserved ones: the fold puts the event's own seq, time and person beside the
payload of an action or a watcher, and a payload must never stand in for them.
"""

from __future__ import annotations

from typing import Any

from .errors import JournalError

# a field's allowed JSON types (bool is never taken for a number), and whether it is required
_Spec = dict[str, tuple[tuple[type, ...], bool]]

_NAME = (str, int)  # an id: hashable and printable
_TEXT = (str,)
_NUMBER = (int, float)
_OPTIONAL_TEXT = (str, type(None))

_DECISION: _Spec = {
    "overrides": ((list,), False),
    "override_reason": (_OPTIONAL_TEXT, False),
    "reason": (_OPTIONAL_TEXT, False),
}
_PLAN: _Spec = {"plan": ((dict,), True), "reason": (_OPTIONAL_TEXT, False)}

SCHEMAS: dict[str, _Spec] = {
    "journal.created": _PLAN,
    "journal.recovered": {},
    "plan.revised": _PLAN,
    "step.started": _DECISION,
    "step.completed": {**_DECISION, "point_of_no_return_confirmed": (_TEXT, False)},
    "step.failed": _DECISION,
    "step.skipped": _DECISION,
    "step.reopened": _DECISION,
    "step.rolled_back": _DECISION,
    "step.signed_off": {"role": (_TEXT, False), "evidence": ((dict,), False)},
    "note.added": {"text": (_TEXT, True)},
    "gate.evaluated": {
        "gate": (_NAME, True),
        "ok": ((bool, type(None)), False),
        "detail": (_TEXT, False),
        "evidence": ((dict,), False),
    },
    "gate.overridden": {"gate": (_NAME, True), "reason": (_OPTIONAL_TEXT, False)},
    "dns.verdict": {"record": (_NAME, True), "resolver": (_NAME, True)},
    "dns.record": {"record": (_NAME, True)},
    "dns.authority": {"record": (_NAME, True)},
    "flow.state": {"flow": (_NAME, True), "side": (_NAME, True), "status": (_NAME, True)},
    "flow.site": {"flow": (_NAME, True), "site": (_NAME, True), "status": (_NAME, True)},
    "reconcile.result": {"reconciliation": (_NAME, True), "status": (_NAME, True)},
    "watcher.connected": {
        "fingerprint": (_TEXT, False),
        "comment": (_OPTIONAL_TEXT, False),
        "peer": (_TEXT, False),
    },
    "watcher.disconnected": {
        "fingerprint": (_TEXT, False),
        "comment": (_OPTIONAL_TEXT, False),
        "peer": (_TEXT, False),
        "duration_s": (_NUMBER, False),
    },
    "action.ran": {
        "kind": (_TEXT, True),
        "exit": ((int, type(None)), False),
        "timed_out": ((bool,), False),
        "duration_s": (_NUMBER, False),
        "command": (_TEXT, False),
        "output": (_TEXT, False),
        "preview": ((list,), False),
        "changes": ((list,), False),
        "calls": ((list,), False),
        "status": (_TEXT, False),
        "change_id": (_TEXT, False),
        "error": (_OPTIONAL_TEXT, False),
    },
    "archive.published": {
        "location": (_TEXT, False),
        "checkpoints": ((list,), False),
        "archived_seq": ((int,), False),
    },
    "archive.fault": {
        "location": (_TEXT, False),
        "fault": (_OPTIONAL_TEXT, False),
        "detail": (_TEXT, False),
    },
}

# the event's own fields that the fold sets beside these kinds' payloads
RESERVED: dict[str, frozenset[str]] = {
    "action.ran": frozenset({"seq", "at", "by"}),
    "watcher.connected": frozenset({"seq", "at", "kind"}),
    "watcher.disconnected": frozenset({"seq", "at", "kind"}),
    "journal.recovered": frozenset({"seq", "at"}),
}
# every kind: the fold reads these wherever they appear
_COMMON: _Spec = {"overrides": ((list,), False), "evidence": ((dict,), False)}
_TYPE_NAMES = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a JSON object",
    type(None): "null",
}


class PayloadInvalid(JournalError):
    """A payload that does not fit its kind's schema: refused before it is journaled."""


def problem(kind: str, payload: Any) -> str | None:
    """What is wrong with `payload` for an event of `kind` (a phrase: "its 'at' is reserved"),
    or None when it fits. A kind without a schema takes any JSON object."""
    if type(payload) is not dict:
        return "its payload is not a JSON object"
    for name in RESERVED.get(kind, ()):
        if name in payload:
            return f"its payload sets '{name}', which is the event's own"
    spec = SCHEMAS.get(kind, {})
    for name, (types, required) in (_COMMON | spec).items():
        if name not in payload:
            if required:
                return f"its payload has no '{name}'"
            continue
        value = payload[name]
        if type(value) not in types:
            wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
            return f"its '{name}' is not {wanted}"
    if "plan" in spec:
        plan = payload["plan"]
        if not (type(plan.get("text")) is str and type(plan.get("sha256")) is str):
            return "its payload has no plan (text and sha256)"
    return None


def check(kind: str, payload: Any) -> None:
    """Refuse a payload that does not fit its kind, before it is journaled."""
    found = problem(kind, payload)
    if found is not None:
        raise PayloadInvalid(f"a {kind} payload is refused: {found.removeprefix('its ')}")
