"""The Comms pane: for each audience the next scheduled update and when it is due; the last
updates, with delivered or failed for each target (the masked channel, the server's words);
abandoned deliveries until the lead acknowledges them. Read-only (the lead sends from a dialog).

The pane reads the comms events through `CommsFollower`, which folds what the journal added
since it last looked (an indexed read of the new rows, done only for plans with `comms:`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ...journal import JournalReader
from ...runbook.comms_ledger import CommsLedger, Message
from ...runbook.fold import CutoverState
from ...timestamps import ago, day_time, short_duration
from ...untrusted import LINE_LIMIT
from ...untrusted import text as literal
from ..table import KeyedTable
from .shown import show

SHOWN = 50  # the newest updates in the table
STATUS_STYLE = {
    "delivered": "green",
    "failed": "bold yellow",
    "sending": "cyan",
    "queued": "dim",
    "abandoned": "bold red",
}


class CommsFollower:
    """The comms ledger of a journal, kept up to date as its head moves."""

    def __init__(self) -> None:
        self.ledger = CommsLedger()

    def follow(self, state: CutoverState, reader: JournalReader) -> bool:
        """Fold the new events (True when something about comms changed)."""
        if state.plan.comms is None or state.head_seq <= self.ledger.head_seq:
            return False
        return self.ledger.fold(reader.events(after=self.ledger.head_seq))

    def alert(self, state: CutoverState, now: datetime) -> str:
        """What the clock bar says about comms: overdue updates, abandoned deliveries."""
        if state.plan.comms is None:
            return ""
        parts = []
        for audience, since in open_overdue(self.ledger):
            parts.append(f"UPDATE OVERDUE to {audience} (nothing since {ago(since, now)})")
        abandoned = self.ledger.abandoned()
        if abandoned:
            parts.append(f"{len(abandoned)} UPDATE(S) NOT DELIVERED")
        return " · ".join(parts)


def open_overdue(ledger: CommsLedger) -> list[tuple[str, datetime]]:
    """(audience, last delivered) of each overdue gap not closed by a delivery since."""
    out: dict[str, datetime] = {}
    for o in ledger.overdue:
        audience, since = str(o.get("audience", "")), str(o.get("since", ""))
        last = ledger.last_delivered_at(audience)
        try:
            gap_from = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            continue
        if last is None or last <= gap_from:
            out[audience] = gap_from
    return sorted(out.items())


def next_due(state: CutoverState, ledger: CommsLedger, audience: str, now: datetime) -> str:
    """When `audience` gets its next scheduled update, and by which rule."""
    comms = state.plan.comms
    assert comms is not None
    window, zone = state.plan.cutover.window, state.plan.zone
    found: list[tuple[datetime, str]] = []
    for rule in comms.updates:
        if audience not in rule.audiences:
            continue
        last = ledger.last_queued(rule.id, audience)
        if rule.every is not None and now <= window.end:
            when = last.queued_at + rule.every if last else window.start
            found.append((max(when, now), f"{rule.id} (every {short_duration(rule.every)})"))
        if rule.daily is not None:
            local = now.astimezone(zone)
            at = datetime.combine(local.date(), rule.daily, tzinfo=zone)
            if at <= now and last is not None and last.trigger.get("day") == str(local.date()):
                at += timedelta(days=1)
            found.append((max(at, window.start), f"{rule.id} (daily {rule.daily:%H:%M})"))
    if not found:
        decisions = [r.on for r in comms.updates if r.on and audience in r.audiences]
        return f"on decisions: {', '.join(dict.fromkeys(decisions))}" if decisions else "—"
    when, rule_name = min(found)
    due = "due now" if when <= now else f"in {short_duration(when - now)}"
    return f"{day_time(when, zone)} ({due}) · {rule_name}"


def _targets(message: Message) -> Text:
    out = Text()
    for i, t in enumerate(message.targets.values()):
        if i:
            out.append(" | ")
        said = t.reply if t.status == "delivered" else t.reason
        out.append(t.status, STATUS_STYLE.get(t.status, ""))
        # the channel's reference, never its URL (the report keeps Apprise's masked one)
        out.append_text(literal(f" {t.channel}: {said}", limit=100))
        if t.acknowledged_by:
            out.append(f" (ack {t.acknowledged_by})", "dim")
    return out


class CommsPane(Vertical):
    send_hint = ""  # the lead's app: which key sends an update (watchers: none)

    def compose(self) -> ComposeResult:
        yield Static("", id="comms-head")
        yield KeyedTable(id="comms-audiences", cursor_type="row")
        yield KeyedTable(id="comms-messages", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#comms-audiences", KeyedTable).add_columns(
            "audience", "next update", "last delivered"
        )
        self.query_one("#comms-messages", KeyedTable).add_columns(
            "queued", "audience", "update", "title", "targets"
        )

    def render_state(
        self, state: CutoverState, now: datetime, ledger: CommsLedger, errors: dict[str, str]
    ) -> None:
        head = self.query_one("#comms-head", Static)
        comms = state.plan.comms
        if comms is None:
            show(head, "This plan has no `comms:`.", fixed_size=True)
            return
        messages = sorted(ledger.messages.values(), key=lambda m: m.seq, reverse=True)
        delivered = sum(1 for m in messages for t in m.targets.values() if t.status == "delivered")
        abandoned = ledger.abandoned()
        error = errors.get("comms")
        summary = (
            f"{len(messages)} update(s), {delivered} deliveries accepted"
            + (f", {len(abandoned)} ABANDONED until acknowledged" if abandoned else "")
            + (f" · {self.send_hint}" if self.send_hint else "")
        )
        show(
            head,
            literal(f"comms engine stopped: {error}", "bold red", limit=LINE_LIMIT)
            if error
            else literal(summary, "bold red" if abandoned else "", limit=LINE_LIMIT),
            fixed_size=True,
        )
        zone = state.plan.zone
        audiences = []
        for a in comms.audiences:
            last = ledger.last_delivered_at(a.id)
            audiences.append(
                (
                    a.id,
                    (
                        literal(a.name or a.id, limit=40),
                        literal(next_due(state, ledger, a.id, now), limit=80),
                        f"{day_time(last, zone)} ({ago(last, now)})" if last else "never",
                    ),
                )
            )
        self.query_one("#comms-audiences", KeyedTable).fill(audiences)
        rows: list[tuple[str, Any]] = []
        for m in messages[:SHOWN]:
            title = (m.rendered.get("text") or {}).get("title", m.render_error or "…")
            rows.append(
                (
                    m.id,
                    (
                        day_time(m.queued_at, zone),
                        literal(m.audience, limit=30),
                        literal(m.rule + (" [test]" if m.test else ""), limit=30),
                        literal(title, limit=60),
                        _targets(m),
                    ),
                )
            )
        self.query_one("#comms-messages", KeyedTable).fill(rows)
