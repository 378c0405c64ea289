"""The report's "Communications" section: every stakeholder update, its audience, its exact text
and that text's hash, when it was queued and sent, its delivery to each target (the server's
reply, or why it failed), and the gaps when a cadence update was overdue. From the journal alone.
"""

from __future__ import annotations

from datetime import datetime

from ..journal import Event
from ..runbook.comms_ledger import CommsLedger, Message
from ..runbook.fold import CutoverState
from .inline import Data, Paragraph


def _t(state: CutoverState, when: datetime | None) -> str:
    return when.astimezone(state.plan.zone).strftime("%a %Y-%m-%d %H:%M:%S") if when else "—"


def communications(state: CutoverState, events: list[Event]) -> tuple[
    list[Paragraph], list[tuple[list[str], list[list[str]]]]
]:  # fmt: skip
    """(paragraphs, tables as (headers, rows)); nothing when the plan sends no updates."""
    ledger = CommsLedger.of(events)
    if state.plan.comms is None and not ledger.messages:
        return [], []
    messages = sorted(ledger.messages.values(), key=lambda m: m.seq)
    delivered = sum(1 for m in messages for t in m.targets.values() if t.status == "delivered")
    targets = sum(len(m.targets) for m in messages)
    paragraphs: list[Paragraph] = [
        f"{len(messages)} update(s) queued, {delivered} of {targets} deliveries accepted by "
        "the receiving server (an SMTP 250 or an HTTP 2xx proves the server took the message, "
        "not that anyone read it). Each message carried its id in an `X-Cutover-Message` "
        "header."
    ]
    summary_rows = []
    delivery_rows = []
    for m in messages:
        text = _sent_text(m)
        summary_rows.append(
            [
                m.id,
                m.audience,
                m.rule + (" (test)" if m.test else ""),
                _t(state, m.queued_at),
                str((m.trigger or {}).get("text", "")),
                text.get("sha256", m.render_error or "not rendered")[:16],
            ]
        )
        for t in m.targets.values():
            said = t.reply if t.status == "delivered" else t.reason
            ack = f"; acknowledged by {t.acknowledged_by}" if t.acknowledged_by else ""
            delivery_rows.append(
                [m.id, t.target, t.url or t.channel, t.status, str(t.attempts),
                 _t(state, t.at), said + ack]
            )  # fmt: skip
    for m in messages:
        for fmt, text in sorted(m.rendered.items()):
            if fmt not in _formats_used(m):
                continue
            paragraphs.append(
                (
                    f"**{m.id}** ({fmt}), sha256 `{text.get('sha256', '')}`: ",
                    Data(text.get("title", "")),
                )
            )
            paragraphs.append((Data(text.get("body", ""), multiline=True),))
    tables = [
        (["message", "audience", "rule", "queued", "trigger", "text sha256"], summary_rows),
        (["message", "target", "channel (masked)", "status", "attempts", "at", "server said"],
         delivery_rows),
    ]  # fmt: skip
    if ledger.overdue:
        rows = [
            [str(o.get("rule", "")), str(o.get("audience", "")), str(o.get("since", "")),
             str(o.get("due_at", "")), _t(state, o.get("at"))]
            for o in ledger.overdue
        ]  # fmt: skip
        tables.append((["overdue rule", "audience", "last delivered", "due by", "flagged"], rows))
    else:
        paragraphs.append("No cadence update was overdue.")
    return paragraphs, tables


def _formats_used(message: Message) -> set[str]:
    """The formats its targets were sent in (the text one when none was attempted yet)."""
    used = {t.format for t in message.targets.values() if t.format}
    return used or {"text"}


def _sent_text(message: Message) -> dict[str, str]:
    used = sorted(_formats_used(message))
    return message.rendered.get(used[0], {}) if used else {}
