"""What each request does to a cutover, the same whoever sends it: the journal service for its
clients, or a command that writes directly when no service runs. Same rules, same refusals, same
idempotency keys, so a script cannot tell the two apart but by speed.

`apply` runs on the writer's thread and returns the result a client prints; `error_body` turns
what it raised into a response, and `raise_error` raises it again on the client's side.
"""

from __future__ import annotations

from typing import Any, NoReturn

from ..journal import Event, IdempotencyConflict, JournalError, JournalLocked, Replayed
from ..journal.payloads import PayloadInvalid
from ..plan import PlanInvalid, load_plan_text
from ..runbook import ActionRefused, Cutover, Refusal
from ..signoffs import Presented
from ..untrusted import clip
from .protocol import BadRequest, Request

# characters of a refusal's message: a sentence quoting what a peer sent stays far below a frame
MESSAGE_LIMIT = 20_000


class PlanMismatch(Exception):
    """A revision of another cutover's plan (a usage error, exit 2)."""


def apply(cutover: Cutover, request: Request) -> dict[str, Any]:
    """Run one journal operation; what the client prints. Raises ActionRefused (and friends)
    like the Cutover does."""
    if request.op == "check_action":
        run(cutover, request)
        return {"may_run": True}
    if request.op == "comms_step_preview":
        return {"previews": comms_step_preview(cutover, request.args["step"])}
    if request.op == "signoff_statement":
        a = request.args
        return {"statement": cutover.signoff_statement(a["step"], a["by"], role=a.get("role"))}
    event = run(cutover, request)
    return {"event": None} if event is None else outcome(cutover, event)


def comms_step_preview(cutover: Cutover, step: str) -> list[dict[str, str]] | None:
    """The previews of what completing `step` sends (None: it sends nothing itself); journals
    nothing."""
    from dataclasses import asdict

    from ..comms.preview import PreviewError, step_previews

    try:
        found = step_previews(cutover.state, cutover.clock.now(), step)
    except PreviewError as exc:
        raise ActionRefused("preview", step, [Refusal("comms", str(exc))]) from None
    return None if found is None else [asdict(p) for p in found]


def run(cutover: Cutover, request: Request) -> Event | None:
    """Run one journal operation: the event it journaled (None: a revision that changes
    nothing, or a check)."""
    a, idem = request.args, request.idem
    op = request.op
    event: Event | None
    if op == "start_step":
        event = cutover.start(a["step"], a["by"], override=a.get("override"), idem=idem)
    elif op == "complete_step":
        event = cutover.complete(
            a["step"],
            a["by"],
            override=a.get("override"),
            idem=idem,
            confirmed=a.get("confirmed"),
        )
    elif op == "fail_step":
        event = cutover.fail(a["step"], a["by"], a.get("reason"), idem=idem)
    elif op == "skip_step":
        event = cutover.skip(a["step"], a["by"], a.get("reason"), idem=idem)
    elif op == "reopen_step":
        event = cutover.reopen(a["step"], a["by"], a.get("reason"), idem=idem)
    elif op == "rollback_step":
        event = cutover.rollback(
            a["step"], a["by"], a.get("reason"), override=a.get("override"), idem=idem
        )
    elif op == "signoff":
        signed = signed_part(a)
        event = cutover.signoff(a["step"], a["by"], role=a.get("role"), idem=idem, signed=signed)
    elif op == "note":
        event = cutover.note(a["text"], a["by"], step_id=a.get("step"), idem=idem)
    elif op == "override_gate":
        event = cutover.override_gate(a["step"], a["gate"], a["by"], a["reason"], idem=idem)
    elif op == "check_action":
        cutover.check_action(a["step"], a["by"])
        event = None
    elif op == "record_action":
        event = cutover.record_action(a["step"], a["by"], a["result"])
    elif op == "record_watcher":
        event = cutover.record_watcher(a["connected"], a["viewer"])
    elif op in ("comms_send", "comms_ack"):
        from ..comms.requests import acknowledge, queue_manual

        if op == "comms_ack":
            return acknowledge(cutover, a["message"], a["target"], a["by"])
        queued = queue_manual(
            cutover,
            a["by"],
            a.get("template"),
            a.get("audience"),
            test=bool(a.get("test")),
            no_change=bool(a.get("no_change")),
        )
        event = queued[-1] if queued else None
    elif op == "revise":
        document = load_plan_text(a["plan_text"], a["plan_file"], key_files=True)
        journal_id, plan_id = cutover.state.plan.cutover.id, document.plan.cutover.id
        if plan_id != journal_id:
            raise PlanMismatch(
                f"{a['plan_file']} is cutover '{plan_id}', the journal is '{journal_id}'"
            )
        event = cutover.revise_plan(document, a["by"], a.get("reason"))
    else:  # status and stop are the service's own, never a journal operation
        raise BadRequest(f"{op} is not a journal operation")
    return event


def signed_part(args: dict[str, Any]) -> Presented | None:
    """The statement and SSHSIG a signed sign-off carries (both, or neither)."""
    if "statement" not in args and "signature" not in args:
        return None
    if "statement" not in args or "signature" not in args:
        raise BadRequest("a signed sign-off needs both 'statement' and 'signature'")
    return Presented(args["statement"], args["signature"])


def outcome(cutover: Cutover, event: Event) -> dict[str, Any]:
    """What the client prints: the event, and where its step now stands."""
    result: dict[str, Any] = {
        "event": {
            "seq": event.seq,
            "hash": event.hash,
            "kind": event.kind,
            "step": event.step,
            "replayed": isinstance(event, Replayed),
        }
    }
    if "role" in event.payload:
        result["event"]["role"] = event.payload["role"]
    signed = event.payload.get("signed")
    if type(signed) is dict:
        result["event"]["key"] = signed.get("key")
    if event.step is not None and event.step in cutover.state.steps:
        current = cutover.state.steps[event.step]
        result["step_status"] = current.status
        result["signoffs"] = len(current.signoffs)
    return result


def error_body(exc: BaseException) -> dict[str, Any]:
    """A refusal or failure as a response's `error`, with everything the client needs to raise
    the same exception (and so print the same message, with the same exit status)."""
    if isinstance(exc, ActionRefused):
        return {
            "type": "refused",
            "message": str(exc)[:MESSAGE_LIMIT],
            "action": exc.action,
            "step": None if exc.step is None else clip(exc.step, 200),
            "refusals": [
                {"rule": r.rule, "message": r.message[:MESSAGE_LIMIT], "overridable": r.overridable}
                for r in exc.refusals[:20]
            ],
        }
    if isinstance(exc, IdempotencyConflict):
        return {"type": "idempotency", "message": str(exc)[:MESSAGE_LIMIT], "seq": exc.event.seq}
    if isinstance(exc, PlanInvalid):
        return {"type": "plan", "message": "\n".join(str(p) for p in exc.problems)[:MESSAGE_LIMIT]}
    if isinstance(exc, PlanMismatch):
        return {"type": "usage", "message": str(exc)[:MESSAGE_LIMIT]}
    if isinstance(exc, JournalLocked):
        return {"type": "locked", "message": str(exc)[:MESSAGE_LIMIT]}
    if isinstance(exc, PayloadInvalid | BadRequest):
        return {"type": "bad_request", "message": str(exc)[:MESSAGE_LIMIT]}
    if isinstance(exc, JournalError):
        return {"type": "journal", "message": str(exc)[:MESSAGE_LIMIT]}
    return {"type": "internal", "message": f"{type(exc).__name__}: {exc}"[:500]}


class ServiceError(JournalError):
    """The service could not do it for a reason that is not a rule (a bad request, an internal
    failure): the CLI prints the message and exits 2."""


def raise_error(error: Any) -> NoReturn:
    """Raise on the client's side what the service raised."""
    if type(error) is not dict:
        raise ServiceError("the journal service answered with something that is not a response")
    kind, message = error.get("type"), str(error.get("message", ""))
    if kind == "refused":
        refusals = [
            Refusal(str(r.get("rule", "")), str(r.get("message", "")), bool(r.get("overridable")))
            for r in error.get("refusals") or []
            if type(r) is dict
        ]
        raise ActionRefused(str(error.get("action", "")), error.get("step"), refusals)
    if kind == "idempotency":
        raise RemoteIdempotencyConflict(message)
    if kind == "usage":
        raise PlanMismatch(message)
    if kind in ("journal", "locked"):
        raise JournalError(message)
    raise ServiceError(f"the journal service refused the request: {message}")


class RemoteIdempotencyConflict(IdempotencyConflict):
    """IdempotencyConflict as the service reported it: printed 'refused: …', exit 1."""

    def __init__(self, message: str) -> None:
        JournalError.__init__(self, message)
