"""The logs pane: both sides' log lines, filtered by words, `source:` and `level:`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Input, RichLog

from ...timestamps import clock_time
from ...untrusted import LINE_LIMIT
from ...untrusted import text as literal
from .lazy import LazyPane
from .shown import FILTER_LIMIT, displayed


class LogsPane(LazyPane):
    zone: tzinfo | None = None  # the cutover's: set by the app, like every pane's times

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines: list[tuple[Any, ...]] = []
        self.last_id = 0
        self._behind = False  # lines kept while the pane was hidden, not yet in its log

    def parts(self) -> Iterable[Widget]:
        yield Input(
            placeholder="filter: text, source:NAME, level:ERROR",
            id="log-filter",
            max_length=FILTER_LIMIT,
        )
        yield RichLog(id="log", max_lines=2000, wrap=False, markup=False)

    def on_built(self) -> None:
        self.refilter()

    def add_lines(self, rows: list[tuple[Any, ...]]) -> None:
        self.lines.extend(rows)
        self.lines = self.lines[-5000:]
        if rows:
            self.last_id = rows[-1][0]
        if not self.built or not displayed(self):  # shown by `catch_up` (an engine logs
            self._behind = True  # every few seconds)
            return
        log = self.query_one(RichLog)
        words = self._words()
        for row in rows:
            if self._matches(row, words):
                log.write(self._line(row))

    def catch_up(self) -> None:
        """The pane is shown again: its log gets the lines kept while it was hidden."""
        if self._behind and self.built:
            self.refilter()

    def _words(self) -> list[str]:
        return self.query_one("#log-filter", Input).value.strip().split()

    @staticmethod
    def _matches(row: tuple[Any, ...], words: list[str]) -> bool:
        _id, _at, source, _side, level, line = row
        for word in words:
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
        if not self.built:
            return
        self._behind = False
        log = self.query_one(RichLog)
        log.clear()
        words = self._words()
        for row in self.lines:
            if self._matches(row, words):
                log.write(self._line(row))
