"""Sign-off statements for a cutover being driven: issue one, and check one presented with its
signature (the rules are in `signoffs`; this module feeds them the fold's view of the step)."""

from __future__ import annotations

import base64
import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

from ..signoffs import sshsig
from ..signoffs.nonces import journal_secret, new_nonce
from ..signoffs.statement import Statement, StatementInvalid, evidence_digest, issued_now
from ..signoffs.verdict import Context, Presented, SignatureRefusal, check_presented
from .fold import CutoverState, StepState
from .rules import Refusal


def frozen_evidence(current: StepState) -> dict[str, Any]:
    """The gate evidence a sign-off of this step freezes (and its statement's digest covers)."""
    return {
        gate_id: {
            "ok": g.ok,
            "detail": g.detail,
            "overridden": g.overridden_by is not None,
            "evidence": g.evidence,
        }
        for gate_id, g in current.gates.items()
    }


def used_nonces(state: CutoverState) -> dict[str, int]:
    return {
        s.nonce: s.seq
        for step in state.steps.values()
        for s in (*step.earlier_signoffs, *step.signoffs)
        if s.nonce
    }


def issue(
    state: CutoverState, journal: Path, step_id: str, person: str, role: str, now: datetime
) -> Statement:
    """A fresh statement for `person` to sign `step_id` as `role` (its nonce tagged with this
    journal's secret)."""
    current = state.steps[step_id]
    draft = Statement(
        state.plan.cutover.id,
        state.journal_id,
        step_id,
        role,
        person,
        evidence_digest(frozen_evidence(current)),
        state.head_seq,
        state.head_hash,
        "",
        issued_now(now),
    )
    return dataclasses.replace(draft, nonce=new_nonce(journal_secret(journal), draft))


def check(
    state: CutoverState,
    journal: Path,
    step_id: str,
    person: str,
    role: str,
    presented: Presented,
    now: datetime,
) -> dict[str, Any] | Refusal:
    """The `signed` record a sign-off event holds, or the refusal."""
    current = state.steps[step_id]
    context = Context(
        cutover=state.plan.cutover.id,
        journal=state.journal_id,
        step=step_id,
        person=person,
        role=role,
        evidence=evidence_digest(frozen_evidence(current)),
        run_started_seq=current.run_seq,
        started_by=current.started_by,
        used=used_nonces(state),
        keys=state.document.keys,
        secret=journal_secret(journal),
        now=now,
    )
    try:
        statement, key = check_presented(presented, context)
    except SignatureRefusal as exc:
        return Refusal(f"signature_{exc.rule}", exc.message)
    return {
        "statement": presented.statement,
        # the SSHSIG blob as one base64 line: armored, its lines could look like `pwd…=\n-----`
        # to the journal's secret redaction, which would break the signature it holds
        "sshsig": base64.b64encode(sshsig.unarmor(presented.signature.encode())).decode(),
        "key": key.fingerprint,
        "nonce": statement.nonce,
    }


def how_to_sign(step_id: str, person: str) -> str:
    """The command a signer runs, as refusals and the console show it."""
    return f"cutover signoff {step_id} --by {person} --sign-with ~/.ssh/id_ed25519.pub"


def statement_role(presented: Presented) -> str | None:
    try:
        return Statement.parse(presented.statement).role
    except StatementInvalid:
        return None
