"""The logs pane: both sides' log lines, filtered by words, `source:` and `level:`."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, RichLog

from ...timestamps import clock_time
from ...untrusted import LINE_LIMIT
from ...untrusted import text as literal
from .shown import FILTER_LIMIT


class LogsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: text, source:NAME, level:ERROR",
            id="log-filter",
            max_length=FILTER_LIMIT,
        )
        yield RichLog(id="log", max_lines=2000, wrap=False, markup=False)

    zone: tzinfo | None = None  # the cutover's: set by the app, like every pane's times

    def on_mount(self) -> None:
        self.lines: list[tuple[Any, ...]] = []
        self.last_id = 0

    def add_lines(self, rows: list[tuple[Any, ...]]) -> None:
        self.lines.extend(rows)
        self.lines = self.lines[-5000:]
        if rows:
            self.last_id = rows[-1][0]
        log = self.query_one(RichLog)
        for row in rows:
            if self._matches(row):
                log.write(self._line(row))

    def _matches(self, row: tuple[Any, ...]) -> bool:
        text = self.query_one("#log-filter", Input).value.strip()
        _id, _at, source, _side, level, line = row
        for word in text.split():
            if word.startswith("source:") and source != word[7:]:
                return False
            if word.startswith("level:") and level != word[6:].upper():
                return False
            if ":" not in word and word.lower() not in line.lower():
                return False
        return True

    def _line(self, row: tuple[Any, ...]) -> Text:
        _id, at, source, side, level, line = row
        style = {"ERROR": "bold red", "WARN": "yellow", "DEBUG": "dim"}.get(level, "")
        try:
            shown = clock_time(at, self.zone)
        except (TypeError, ValueError):  # not a timestamp: shown as it came
            shown = str(at)[11:19]
        return literal(f"{shown} {side:<3} {source:<18} {level:<5} {line}", style, limit=LINE_LIMIT)

    def refilter(self) -> None:
        log = self.query_one(RichLog)
        log.clear()
        for row in self.lines:
            if self._matches(row):
                log.write(self._line(row))
