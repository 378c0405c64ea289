"""The journal pane: the newest events, and the checkpoint to quote."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ...runbook.fold import CutoverState
from ...timestamps import parse_ts
from ...untrusted import text as literal
from ..table import KeyedTable

SUBJECT_KEYS = ("gate", "flow", "site", "reconciliation", "resolver", "record")


class JournalPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="journal-head")
        yield KeyedTable(id="events", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one(KeyedTable).add_columns("seq", "time", "who", "kind", "step", "detail")
        self.shown = 0

    def add_events(self, state: CutoverState, events: list[Any]) -> None:
        table = self.query_one(KeyedTable)
        zone = state.plan.zone
        for event in events:
            if event.seq <= self.shown:
                continue
            self.shown = event.seq
            p = event.payload
            detail = (
                p.get("reason")
                or p.get("text")
                or p.get("role")
                or p.get("detail")
                or p.get("status")
                or ""
            )
            subject = " ".join(  # what an engine event is about: which site, resolver, gate
                str(p[k]) for k in SUBJECT_KEYS if isinstance(p.get(k), str)
            )
            if subject:
                detail = f"{subject}: {detail}" if detail else subject
            at = parse_ts(event.ts).astimezone(zone)
            table.add_row(
                str(event.seq),
                f"{at:%a %H:%M:%S}",
                event.actor,
                event.kind,
                event.step or "",
                literal(detail, limit=80),
                key=str(event.seq),
            )
        while table.row_count > 300:
            table.remove_row(str(table.get_row_at(0)[0]))
        if events:
            table.move_cursor(row=table.row_count - 1)
        head = state.head
        if head is not None:
            self.query_one("#journal-head", Static).update(
                Text.assemble(
                    ("checkpoint ", "bold"),
                    (f"{head.seq}:{head.hash}", "bold cyan"),
                    (
                        "  — quote it in updates; `cutover verify J --expect-head` checks it",
                        "dim",
                    ),
                )
            )
