"""`g` for the person at the keyboard, signed with their own SSH key: the journal service
issues the statement, the key signs it here (a key file, or a .pub through ssh-agent), and the
service checks the signature before it journals the sign-off."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from ..runbook import ActionRefused
from ..runbook.signing import how_to_sign
from ..signoffs import signature_required
from .dialogs import ReasonDialog

if TYPE_CHECKING:
    from .lead_actions import LeadActions


def signs_by_key(app: LeadActions, step: str, person: str) -> bool | None:
    """True: sign with `person`'s key here (the person at the keyboard, with keys in the plan);
    False: record as today; None: refused (the message is already shown)."""
    state = app.lead_session.state
    has_keys = bool(state.document.keys.get(person))
    if person == app.operator and has_keys:
        return True
    if signature_required(state.plan, state.plan.step(step)):
        app.say(
            f"{step} needs {person}'s own signature: {person} runs {how_to_sign(step, person)}"
            " (or, over SSH, the statement and signoff commands of cutover serve)",
            title="Signed sign-off",
            severity="warning",
            timeout=10,
        )
        return None
    return False


async def sign_here(app: LeadActions, step: str) -> None:
    from ..signoffs.signer import SigningFailed, sign_statement

    person = app.operator
    key = await app.push_screen_wait(
        ReasonDialog(
            f"Sign off {step} with your SSH key",
            f"{person}'s key file: a private key, or a .pub whose key is in ssh-agent",
            "~/.ssh/id_ed25519",
        )
    )
    if key is None:
        return
    args = {"step": step, "by": person}
    try:
        statement = await app.lead_session.statement(step, person)
        signature = await asyncio.to_thread(sign_statement, Path(key).expanduser(), statement)
    except ActionRefused as refused:
        text = "\n".join(f"• {r.message}" for r in refused.refusals)
        app.say(text, title=f"Refused: sign-off of {step}", severity="error", timeout=8)
        return
    except SigningFailed as exc:
        app.say(str(exc), title="Not signed", severity="error", timeout=8)
        return
    await app._do(
        f"signed sign-off of {step} by {person}",
        "signoff",
        {**args, "statement": statement, "signature": signature},
    )
