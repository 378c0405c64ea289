"""One table widget for every pane: rows keyed by id, cells always literal text.

Textual's `DataTable` parses a plain `str` cell as markup, action links (`[@click=...]`) included.
Every cell that enters a `KeyedTable`, by `fill`, `add_row` or `update_cell`, goes through
`untrusted.cell` first, so whatever a probe, a note or a DNS answer says is shown, never obeyed.
"""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

from ..untrusted import cell

Row = tuple[Any, ...]


class KeyedTable(DataTable[Text]):
    """Rows keyed by id: `fill` updates only the cells whose text changed (Dolphie's rule) and
    rebuilds only when the set of rows changes, keeping the cursor on the same key."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: dict[str, tuple[str, ...]] = {}  # what each row shows now, as text

    def add_row(self, *cells: Any, **kwargs: Any) -> Any:
        return super().add_row(*(cell(c) for c in cells), **kwargs)

    def update_cell(self, row_key: Any, column_key: Any, value: Any, **kwargs: Any) -> None:
        super().update_cell(row_key, column_key, cell(value), **kwargs)

    def clear(self, columns: bool = False) -> KeyedTable:
        self._shown = {}
        super().clear(columns)
        return self

    def set_columns(self, names: tuple[str, ...]) -> None:
        """Replace the columns (a pane laid out again for another width); rows are re-added
        by the next `fill`, the cursor stays on its key."""
        current = self.current_key()
        self.clear(columns=True)
        self.add_columns(*names)
        self._restore = current

    def current_key(self) -> str | None:
        """The key of the row under the cursor, or None for an empty table."""
        if self.row_count == 0:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # the cursor sits past a row that was just removed
            return None

    def fill(self, rows: list[tuple[str, Row]]) -> None:
        """Show exactly `rows` (key, cells). A refresh with nothing new costs a comparison per
        row, not a widget call per cell."""
        shown = self._shown
        keys = [k for k, _ in rows]
        if keys != list(shown):
            current = self.current_key() or getattr(self, "_restore", None)
            self._restore = None
            self.clear()
            for key, row in rows:
                self.add_row(*row, key=key)
                self._shown[key] = tuple(str(v) for v in row)
            if current in keys:
                self.move_cursor(row=keys.index(current))
            return
        columns = list(self.columns)
        changed: list[tuple[str, int, Any]] = []
        widest: dict[int, tuple[int, str]] = {}  # column -> (width, key) of its widest change
        for key, row in rows:
            text = tuple(str(v) for v in row)
            before = shown[key]
            if text == before:
                continue
            for index, value in enumerate(row):
                if text[index] != before[index]:
                    changed.append((key, index, value))
                    width = cell_len(text[index])
                    if index not in widest or width > widest[index][0]:
                        widest[index] = (width, key)
            shown[key] = text
        with self.app.batch_update():
            for key, index, value in changed:
                # One measured cell per column: DataTable measures the whole column again for
                # each narrower cell it is asked to measure, which made a minute's new delays
                # (every late step's) cost a column's measure per row (issue 21). Measuring the
                # widest change keeps the width right: wider, it widens the column; not wider,
                # the whole column (holding every new value by then) is measured once.
                measure = widest[index][1] == key
                self.update_cell(key, columns[index], value, update_width=measure)
