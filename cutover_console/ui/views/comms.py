"""The Comms pane: for each audience the next scheduled update and when it is due; the last
updates, with delivered or failed for each target (the masked channel, the server's words);
abandoned deliveries until the lead acknowledges them. Read-only (the lead sends from a dialog).

The pane draws the session's comms ledger (`runbook.comms_ledger.CommsFollower`), which the
session's follower thread folds with the state: nothing here reads the journal on the screen's
loop. It is drawn on the clock's tick (once a second), not on every event a busy send
journals."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from ...runbook.comms_ledger import CommsLedger, Message
from ...runbook.fold import CutoverState
from ...timestamps import ago, day_time, parse_iso, short_duration
from ...untrusted import LINE_LIMIT
from ...untrusted import text as literal
from ..table import KeyedTable
from .lazy import LazyPane
from .shown import show

SHOWN = 200  # updates kept in the table (the oldest leave it first)
ROWS_AT_ONCE = 20  # blank rows the updates table grows by when it is full (see _slot_for)
MESSAGE_COLUMNS = (("queued", 9), ("audience", 16), ("update", 16), ("title", 44), ("targets", 90))
REDRAW_EVERY = 1.0  # seconds: the updates table is redrawn at most this often (a busy send
# journals dozens of events a second; rebuilding 50 rows for each cost key presses 6x)
STATUS_STYLE = {
    "delivered": "green",
    "failed": "bold yellow",
    "sending": "cyan",
    "queued": "dim",
    "abandoned": "bold red",
}


def comms_alert(state: CutoverState, ledger: CommsLedger, now: datetime) -> str:
    """What the clock bar says about comms: overdue updates, abandoned deliveries."""
    if state.plan.comms is None:
        return ""
    parts = []
    for audience, since in open_overdue(ledger):
        parts.append(f"UPDATE OVERDUE to {audience} (nothing since {ago(since, now)})")
    abandoned = ledger.abandoned()
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
            gap_from = parse_iso(since)
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


class CommsPane(LazyPane):
    send_hint = ""  # the lead's app: which key sends an update (watchers: none)
    _drawn_version = -1
    _drawn_at = float("-inf")

    def parts(self) -> Iterable[Widget]:
        yield Static("", id="comms-head")
        yield KeyedTable(id="comms-audiences", cursor_type="row")
        yield KeyedTable(id="comms-messages", cursor_type="row")

    def on_built(self) -> None:
        self.query_one("#comms-audiences", KeyedTable).add_columns(
            "audience", "next update", "last delivered"
        )
        table = self.query_one("#comms-messages", KeyedTable)
        # fixed widths: a changed cell never lays the screen out again
        for name, width in MESSAGE_COLUMNS:
            table.add_column(name, width=width, key=name)
        self._rows: dict[str, tuple[str, ...]] = {}  # message id -> its cells, as text
        self._changes: dict[str, int] = {}  # message id -> its `changes` when last drawn
        self._slot: dict[str, str] = {}  # message id -> the key of the row that shows it
        self._blank: list[str] = []  # the blank rows at the bottom, top first
        self._made = 0  # rows made so far (their keys: row-N)

    def _new_row(self, table: KeyedTable) -> None:
        key = f"row-{self._made}"
        self._made += 1
        table.add_row(*("" for _ in MESSAGE_COLUMNS), key=key)
        self._blank.append(key)

    def _slot_for(self, table: KeyedTable) -> str:
        """The row a new update is drawn in: the first blank one. The table grows by
        ROWS_AT_ONCE blank rows when none is left, not by one row per update: a table that
        grows lays the whole screen out again (its virtual size is a layout reactive), ~25 ms
        on the benchmark's screen, and under a busy send that was once a second, in front of
        any key pressed then."""
        if not self._blank:
            for _ in range(ROWS_AT_ONCE):
                self._new_row(table)
        return self._blank.pop(0)

    def render_state(
        self,
        state: CutoverState,
        now: datetime,
        ledger: CommsLedger,
        errors: dict[str, str],
        version: int = -2,
    ) -> None:
        if not self.built:  # made the first time it is shown (views/lazy.py)
            return
        if version == self._drawn_version and now.minute == getattr(self, "_minute", None):
            return  # nothing new since the last draw: the head and due times stand
        self._minute = now.minute
        head = self.query_one("#comms-head", Static)
        comms = state.plan.comms
        if comms is None:
            show(head, "This plan has no `comms:`.", fixed_size=True)
            return
        messages = ledger.messages.values()
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
                        day_time(last, zone) if last else "never",
                    ),
                )
            )
        self.query_one("#comms-audiences", KeyedTable).fill(audiences)
        self._draw_messages(state, ledger, version)

    def _draw_messages(self, state: CutoverState, ledger: CommsLedger, version: int) -> None:
        """The updates table, when the comms changed, at most about once a second: a change
        within half of REDRAW_EVERY of the last draw is drawn by the next tick of the clock.
        (Called under the session's lock: the follower's thread folds the ledger.)"""
        if version == self._drawn_version:
            return
        if time.monotonic() - self._drawn_at < REDRAW_EVERY / 2:
            return
        self._drawn_version, self._drawn_at = version, time.monotonic()
        zone = state.plan.zone
        table = self.query_one("#comms-messages", KeyedTable)
        # oldest first, new updates added at the bottom, changed cells updated in place: a new
        # update costs one row, not a rebuild of the table; one frame for all of it
        with self.app.batch_update():
            self._fill_messages(table, ledger, zone)

    def _fill_messages(self, table: KeyedTable, ledger: CommsLedger, zone: tzinfo) -> None:
        # only the updates that moved since the last draw are rendered again (a busy send
        # changes a few of them a second; the table holds up to SHOWN)
        for m in sorted(ledger.messages.values(), key=lambda m: m.seq)[-SHOWN:]:
            if self._changes.get(m.id) == m.changes:
                continue
            self._changes[m.id] = m.changes
            title = (m.rendered.get("text") or {}).get("title", m.render_error or "…")
            cells = (
                day_time(m.queued_at, zone),
                literal(m.audience, limit=30),
                literal(m.rule + (" [test]" if m.test else ""), limit=30),
                literal(title, limit=60),
                _targets(m),
            )
            text = tuple(str(c) for c in cells)
            before = self._rows.get(m.id)
            if before is None:  # a new update: a blank row takes it, cell by cell
                self._slot[m.id] = self._slot_for(table)
                before = tuple("" for _ in cells)
            for (name, _w), value, old in zip(MESSAGE_COLUMNS, cells, before, strict=True):
                if str(value) != old:
                    table.update_cell(self._slot[m.id], name, value)
            self._rows[m.id] = text
        while len(self._rows) > SHOWN:  # the oldest leave; a blank row keeps the height
            oldest = next(iter(self._rows))
            table.remove_row(self._slot.pop(oldest))
            del self._rows[oldest]
            self._changes.pop(oldest, None)
            self._new_row(table)
