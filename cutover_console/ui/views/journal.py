"""The journal pane: people's events (the engines' on a key), a filter, and the checkpoint to
quote. An engine journals a site's move or a resolver's flip every few seconds; the lead's own
decisions must not scroll away under them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.css.query import NoMatches
from textual.widget import Widget
from textual.widgets import Input, Static

from ...archive.live import witness_detail
from ...journal import events as ev
from ...runbook.fold import CutoverState
from ...timestamps import parse_ts
from ...untrusted import text as literal
from ..table import KeyedTable
from .lazy import LazyPane
from .shown import FILTER_LIMIT, displayed, show

SUBJECT_KEYS = ("gate", "flow", "site", "reconciliation", "resolver", "record")
ENGINE_KINDS = frozenset(
    {
        ev.GATE_EVALUATED,
        ev.DNS_VERDICT,
        ev.DNS_RECORD,
        ev.DNS_AUTHORITY,
        ev.DNS_VANTAGE,
        ev.FLOW_STATE,
        ev.FLOW_SITE,
        ev.RECONCILE_RESULT,
        ev.ARCHIVE_PUBLISHED,  # every few seconds; a fault stays among people's events
    }
)
KEPT = 3000  # rows remembered for filtering
SHOWN = 300  # rows on screen


@dataclass(frozen=True)
class JournalRow:
    seq: int
    cells: tuple[Any, ...]
    engine: bool
    text: str  # what the filter searches, lower case


def is_engine_event(event: Any) -> bool:
    return str(event.actor).startswith("engine:") or event.kind in ENGINE_KINDS


class JournalPane(LazyPane):
    journal: Path | None = None  # whose witness publisher to show, if one runs in this process

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shown = 0
        self.engine = False  # people's events only, until the key says otherwise
        self.rows: list[JournalRow] = []
        self._state: CutoverState | None = None
        self._behind = False  # rows kept while the pane was hidden, not yet in its table

    def parts(self) -> Iterable[Widget]:
        yield Static("", id="journal-head")
        witness = Static("", id="journal-witness")
        witness.display = False  # until the journal names a witness
        yield witness
        yield Input(
            placeholder="filter: words, who:PERSON, kind:step, step:ID",
            id="journal-filter",
            max_length=FILTER_LIMIT,
        )
        yield KeyedTable(id="events", cursor_type="row")

    def on_built(self) -> None:
        self.query_one(KeyedTable).add_columns("seq", "time", "who", "kind", "step", "detail")
        self._behind = True
        self.catch_up()

    def catch_up(self) -> None:
        """The pane is shown again: its table and head get what came while it was hidden."""
        if self._behind and self.built:
            self.refilter(follow=True)
            if self._state is not None:
                self._show_head(self._state)

    def add_events(self, state: CutoverState, events: list[Any]) -> None:
        zone = state.plan.zone
        fresh: list[JournalRow] = []
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
            cells = (
                str(event.seq),
                f"{at:%a %H:%M:%S}",
                event.actor,
                event.kind,
                event.step or "",
                literal(detail, limit=80),
            )
            text = " ".join(
                (
                    f"who:{event.actor}",
                    f"kind:{event.kind}",
                    f"step:{event.step or ''}",
                    str(detail)[:2000],
                )
            ).lower()
            row = JournalRow(event.seq, cells, is_engine_event(event), text)
            self.rows.append(row)
            fresh.append(row)
        del self.rows[:-KEPT]
        self._state = state
        # Hidden, the rows and the head wait for `catch_up`: a hidden widget updated made
        # Textual map the whole screen again, and a table that grows lays it all out again.
        if not self.built or not displayed(self):
            self._behind = True
            return
        try:
            if fresh:
                self._append(fresh)
            self._show_head(state)
        except NoMatches:  # its parts are gone while the app shuts down
            return

    def _show_head(self, state: CutoverState) -> None:
        head = state.head
        if head is not None:
            show(
                self.query_one("#journal-head", Static),
                Text.assemble(
                    ("checkpoint ", "bold"),
                    (f"{head.seq}:{head.hash}", "bold cyan"),
                    ("  — quote it in updates; `cutover verify J --expect-head` checks it", "dim"),
                    (
                        "  · all events (engines too)"
                        if self.engine
                        else "  · people's events (e: engines too)",
                        "italic",
                    ),
                ),
                fixed_size=True,
            )
        witness = witness_line(state, self.journal)
        shown = self.query_one("#journal-witness", Static)
        shown.display = bool(witness.plain)
        show(shown, witness)

    def _visible(self, row: JournalRow, words: list[str]) -> bool:
        if row.engine and not self.engine:
            return False
        for word in words:
            if ":" in word:
                prefix, _, value = word.partition(":")
                if prefix in ("who", "kind", "step") and f"{prefix}:{value}" not in row.text:
                    return False
            elif word not in row.text:
                return False
        return True

    def _append(self, rows: list[JournalRow]) -> None:
        """New events at the bottom: only the ones that pass are added, the oldest shown go
        (under an engine flood this is a comparison per event, not a redraw of the table)."""
        words = self.query_one("#journal-filter", Input).value.lower().split()
        passing = [r for r in rows if self._visible(r, words)][-SHOWN:]
        if not passing:
            return
        table = self.query_one(KeyedTable)
        for r in passing:
            table.add_row(*r.cells, key=str(r.seq))
        while table.row_count > SHOWN:
            table.remove_row(str(table.get_row_at(0)[0]))  # the key is the seq cell
        table._shown = {}  # the next `fill` (a filter change) rebuilds from scratch
        table.move_cursor(row=table.row_count - 1)

    def refilter(self, *, follow: bool = False) -> None:
        """Show the newest rows that pass the engine switch and the filter."""
        if not self.built:
            return
        words = self.query_one("#journal-filter", Input).value.lower().split()
        wanted = [r for r in self.rows if self._visible(r, words)][-SHOWN:]
        self._behind = False
        table = self.query_one(KeyedTable)
        table.fill([(str(r.seq), r.cells) for r in wanted])
        if follow and wanted:
            table.move_cursor(row=table.row_count - 1)

    def toggle_engine(self) -> bool:
        self.engine = not self.engine
        self.refilter(follow=True)
        return self.engine


def witness_line(state: CutoverState, journal: Path | None) -> Text:
    """Below the checkpoint: where it is witnessed, how far the archive is, or its fault."""
    detail = witness_detail(state.archive, journal)
    return Text(detail, style="bold red" if "FAULT" in detail else "green", no_wrap=True)
