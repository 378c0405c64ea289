"""Whether a signed sign-off holds: when it is presented (the journal service, before it
journals anything) and afterwards (`cutover verify`, the export), from the same rules.

At presentation a statement must be this journal's, for this step and person, issued by this
service, unused, not expired, not older than the step's current run, on unchanged evidence, and
signed (namespace `sign-off@cutover-console`) by a key the plan lists for that person and not by
the key of whoever ran the step. Afterwards, each signed sign-off event must hold a statement
that matches the event and a signature by a key listed for its signer in the plan revision in
force at the event's time (a key removed later still verifies what it signed before).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..journal import events as ev
from ..journal import payloads
from ..journal.chain import Event
from ..plan import PlanInvalid, load_plan_text
from ..plan.keys import PublicKey, parse_key
from . import sshsig
from .nonces import LIFETIME, issued_here
from .statement import NAMESPACE, Statement, StatementInvalid


@dataclass(frozen=True, slots=True)
class SignatureRefusal(Exception):
    """Why a presented signature is refused: a stable rule code and a sentence."""

    rule: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Presented:
    """What a signer hands in: the statement's exact text and the armored SSHSIG."""

    statement: str
    signature: str


@dataclass(frozen=True, slots=True)
class Context:
    """What the journal knows when a signature is presented."""

    cutover: str
    journal: str  # hash of the journal's first event
    step: str
    person: str
    role: str | None
    evidence: str  # digest of the evidence this sign-off would freeze now
    run_started_seq: int  # the event that started the step's current run
    started_by: str | None
    used: dict[str, int]  # nonces already signed -> their event
    keys: dict[str, list[str]]  # person -> key lines, the plan in force
    secret: bytes
    now: datetime


def owners(keys: dict[str, list[str]]) -> dict[bytes, str]:
    out: dict[bytes, str] = {}
    for person, lines in keys.items():
        for line in lines:
            try:
                out.setdefault(parse_key(line).blob, person)
            except ValueError:
                continue
    return out


def _hint(ctx: Context) -> str:
    return f"ask for a new statement: cutover signoff {ctx.step} --by {ctx.person} --sign-with KEY"


def check_presented(presented: Presented, ctx: Context) -> tuple[Statement, PublicKey]:
    """The statement and the key that signed it, or SignatureRefusal naming the rule broken."""
    try:
        statement = Statement.parse(presented.statement)
    except StatementInvalid as exc:
        raise SignatureRefusal("forged", f"the statement is refused: {exc}") from None
    if statement.cutover != ctx.cutover or statement.journal != ctx.journal:
        raise SignatureRefusal("replay", "replayed: the statement is for another journal")
    if statement.step != ctx.step:
        raise SignatureRefusal(
            "replay", f"replayed: the statement is for step '{statement.step}', not '{ctx.step}'"
        )
    if statement.person != ctx.person:
        raise SignatureRefusal(
            "person", f"the statement is for {statement.person}, not {ctx.person}"
        )
    if ctx.role is not None and statement.role != ctx.role:
        raise SignatureRefusal("role", f"the statement is for the role '{statement.role}'")
    if not issued_here(ctx.secret, statement):
        raise SignatureRefusal(
            "forged", "the statement was not issued by this journal service (forged or altered)"
        )
    if statement.nonce in ctx.used:
        raise SignatureRefusal(
            "replay",
            f"replayed: this statement was already signed off (event {ctx.used[statement.nonce]})",
        )
    if statement.head_seq < ctx.run_started_seq:
        raise SignatureRefusal(
            "replay",
            "replayed: the statement was issued before the step's current run began; " + _hint(ctx),
        )
    if ctx.now - statement.issued_at > LIFETIME:
        minutes = int(LIFETIME.total_seconds() // 60)
        raise SignatureRefusal(
            "expired",
            f"the statement expired (issued {statement.issued}, valid {minutes} minutes); "
            + _hint(ctx),
        )
    if statement.evidence != ctx.evidence:
        raise SignatureRefusal(
            "evidence",
            "the gate evidence changed since the statement was issued: sign the new one; "
            + _hint(ctx),
        )
    try:
        sig = sshsig.verify(presented.statement.encode(), presented.signature.encode(), NAMESPACE)
    except sshsig.SignatureInvalid as exc:
        raise SignatureRefusal("signature", f"the signature is refused: {exc}") from None
    holder = owners(ctx.keys).get(sig.key.blob)
    if ctx.started_by is not None and holder == ctx.started_by:
        raise SignatureRefusal(
            "self_approval",
            f"self-approval refused: signed with the key of {ctx.started_by}, "
            f"who ran '{ctx.step}' ({sig.key.fingerprint})",
        )
    if holder != ctx.person:
        whose = f"{holder}'s key" if holder else "a key the plan does not list"
        raise SignatureRefusal(
            "key",
            f"signed with {whose} ({sig.key.fingerprint}), not a key of {ctx.person} in the plan",
        )
    return statement, sig.key


# -- afterwards: the journal's signed sign-offs -------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedSignOff:
    """A signed sign-off as the journal holds it, checked."""

    seq: int
    ts: str  # the sign-off event's time
    step: str
    person: str
    fingerprint: str
    statement: str
    sshsig: str  # the blob, base64

    @property
    def signature(self) -> str:
        """Armored, as `ssh-keygen -Y sign` writes it."""
        return sshsig.armor(base64.b64decode(self.sshsig)).decode()


KINDS = (ev.JOURNAL_CREATED, ev.PLAN_REVISED, ev.STEP_SIGNED_OFF)  # what check_journal reads


def plan_of(event: Event) -> dict[str, Any] | None:
    """The plan a journal.created / plan.revised event puts in force; None when its payload is
    malformed (a chain may hold one: it is named elsewhere, and puts no key in force)."""
    if payloads.problem(event.kind, event.payload) is not None:
        return None
    plan: dict[str, Any] = event.payload["plan"]
    return plan


def plan_keys(plan: dict[str, Any]) -> dict[str, list[str]]:
    """The keys a plan event puts in force. The journal records them with the plan (`keys`:
    inline and `file:` ones alike, as resolved when it was journaled), so a verifier need not
    load the plan; a plan event without them is read from its text (its inline keys)."""
    recorded = plan.get("keys")
    if isinstance(recorded, dict):
        return {
            str(person): [str(x) for x in lines]
            for person, lines in recorded.items()
            if isinstance(lines, list)
        }
    try:
        document = load_plan_text(str(plan["text"]), str(plan.get("file", "<journal>")))
    except PlanInvalid:
        return {}  # a plan the journal holds but that no longer loads lists no key
    return {person: list(lines) for person, lines in document.keys.items()}


def check_event(event: Event, cutover: str, journal: str, holders: dict[bytes, str]) -> str:
    """A signed sign-off event's key fingerprint; SignatureRefusal when it does not hold."""
    signed = event.payload.get("signed")
    if type(signed) is not dict:
        raise SignatureRefusal("forged", "its signature record is damaged")
    text, blob = signed.get("statement"), _blob(signed.get("sshsig"))
    if type(text) is not str or blob is None:
        raise SignatureRefusal("forged", "its signature record is damaged")
    try:
        statement = Statement.parse(text)
    except StatementInvalid as exc:
        raise SignatureRefusal("forged", f"its statement is refused: {exc}") from None
    expected = {
        "cutover": cutover,
        "journal": journal,
        "step": event.step,
        "person": event.actor,
        "role": event.payload.get("role"),
    }
    for name, value in expected.items():
        if getattr(statement, name) != value:
            raise SignatureRefusal("forged", f"its statement names another {name}")
    if statement.head_seq >= event.seq:
        raise SignatureRefusal("forged", "its statement claims a later journal head")
    try:
        sig = sshsig.verify_blob(text.encode(), blob, NAMESPACE)
    except sshsig.SignatureInvalid as exc:
        raise SignatureRefusal("signature", f"its signature is refused: {exc}") from None
    holder = holders.get(sig.key.blob)
    if holder != event.actor:
        raise SignatureRefusal(
            "key",
            f"it is signed by {sig.key.fingerprint}, which the plan in force then does not list "
            f"for {event.actor}",
        )
    return sig.key.fingerprint


def _blob(encoded: object) -> bytes | None:
    """The SSHSIG blob of a sign-off event's `sshsig` (one line of base64)."""
    if type(encoded) is not str or len(encoded) > sshsig.MAX_SIGNATURE:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        return None


def check_journal(events: Iterable[Event]) -> tuple[list[SignedSignOff], str | None]:
    """Every signed sign-off, checked against the plan in force at its event; the first
    problem (naming the event) or None."""
    found: list[SignedSignOff] = []
    holders: dict[bytes, str] | None = None
    plan: dict[str, Any] = {}  # the plan in force; its keys are read at its first signature
    cutover = journal = ""
    for event in events:
        if event.kind == ev.JOURNAL_CREATED:
            cutover, journal = str(event.payload.get("cutover", "")), event.hash
            plan, holders = plan_of(event) or {}, None
        elif event.kind == ev.PLAN_REVISED:
            plan, holders = plan_of(event) or {}, None
        elif event.kind == ev.STEP_SIGNED_OFF and "signed" in event.payload:
            if holders is None:
                holders = owners(plan_keys(plan)) if plan else {}
            try:
                fingerprint = check_event(event, cutover, journal, holders)
            except SignatureRefusal as exc:
                return (
                    found,
                    f"event {event.seq} (sign-off of '{event.step}' by {event.actor}): {exc}",
                )
            signed = event.payload["signed"]
            found.append(
                SignedSignOff(
                    event.seq,
                    event.ts,
                    str(event.step),
                    event.actor,
                    fingerprint,
                    signed["statement"],
                    signed["sshsig"],
                )
            )
    return found, None
