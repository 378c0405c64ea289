"""The checklist: phases and steps with state, owner, planned vs actual, delay, blockers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input

from ...runbook.summary import STATUS_STYLE
from ...timestamps import day_time, short_duration
from ...untrusted import text as literal
from ..messages import ChecklistFilled
from ..model import CutoverView, StepView
from ..table import KeyedTable
from .shown import FILTER_LIMIT

STATUS_MARK = {
    "pending": "·",
    "in_progress": "▶",
    "done": "✔",
    "failed": "✘",
    "skipped": "↷",
    "rolled_back": "↺",
}
FILTERS = ("all", "open", "blocked", "finished")
COLUMNS = ("", "step", "title", "status", "owner", "planned", "actual", "delay", "blocked by")
MIN_TITLE = 30
MIN_BLOCKED = 18
LAST_TITLE = 12  # narrower than this, the table scrolls sideways
# What makes way, in order, when the width is short (the step's detail shows all of it).
DROP_ORDER = (None, "blocked by", "planned", "owner", "delay", "step")


class Checklist(Vertical):
    """Phases and steps with state, owner, planned vs actual, delay and what blocks them."""

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="search steps (Enter to apply, Esc to clear)",
            id="search",
            max_length=FILTER_LIMIT,
        )
        yield KeyedTable(id="steps", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.columns: tuple[str, ...] = ()
        self._view: CutoverView | None = None
        self._laid_out = 0  # the width the columns were chosen for
        self.query_one(Input).display = False
        self.filter = "all"
        self.search = ""

    def render_state(self, view: CutoverView) -> None:
        self._view = view
        if not self.size.width:  # not laid out yet: its width picks the columns (on_resize)
            return  # (filled for a guessed width first, it was filled and drawn twice, and the
            # step's detail rendered twice: a viewer's first second, issue 21)
        self._laid_out = self.size.width
        rows = self._rows(view)
        table = self.query_one(KeyedTable)
        columns, widths = self._layout(rows)
        if columns != self.columns:  # a new width: another set of columns
            self.columns = columns
            table.set_columns(columns)
        keep = [COLUMNS.index(c) for c in columns]
        wanted = []
        for key, cells in rows:
            shown = [cells[i] for i in keep]
            shown[columns.index("title")] = literal(cells[2], limit=widths["title"])
            if "blocked by" in columns:
                shown[columns.index("blocked by")] = literal(cells[8], limit=widths["blocked by"])
            wanted.append((key, tuple(shown)))
        table.fill(wanted)

    def _layout(
        self, rows: list[tuple[str, tuple[Any, ...]]]
    ) -> tuple[tuple[str, ...], dict[str, int]]:
        """Which columns fit the width, and how wide the title and 'blocked by' may be: the
        title keeps at least MIN_TITLE characters; 'blocked by' is cut (with a mark) before
        it, then makes way, then 'planned', 'owner', 'delay' and the id (the step's detail
        shows them all)."""
        width = self.size.width - 2  # the scrollbar (laid out: render_state waits for it)
        natural = {
            name: max([len(name)] + [len(str(r[1][i])) for r in rows])
            for i, name in enumerate(COLUMNS)
        }
        columns = list(COLUMNS)
        for drop in DROP_ORDER:
            if drop is not None:
                columns.remove(drop)
            fixed = [c for c in columns if c not in ("title", "blocked by")]
            room = width - sum(natural[c] + 2 for c in fixed) - 2 - 2 * ("blocked by" in columns)
            if "blocked by" in columns:
                blocked = min(natural["blocked by"], max(MIN_BLOCKED, room - natural["title"]))
                title = room - blocked
            else:
                blocked, title = 0, room
            if title >= MIN_TITLE or drop == DROP_ORDER[-1]:
                title = max(LAST_TITLE, min(title, natural["title"]))
                return tuple(columns), {"title": title, "blocked by": blocked}
        raise AssertionError("unreachable")

    def _rows(self, view: CutoverView) -> list[tuple[str, tuple[Any, ...]]]:
        wanted: list[tuple[str, tuple[Any, ...]]] = []
        for s in view.steps:
            if not self._visible(s):
                continue
            actual = day_time(s.actual_start)
            if s.actual_end:
                actual += f"–{day_time(s.actual_end)[-5:]}"
            delay = ""
            if s.delay_s is not None and abs(s.delay_s) >= 60:
                delay = short_duration(timedelta(seconds=s.delay_s))
            style = STATUS_STYLE[s.status]
            status = s.status.replace("_", " ") + (" OVERRUN" if s.overrun else "")
            waiting = [b for b in s.blockers if b.startswith("waits for")]
            shown = waiting[:1] if waiting else list(s.blockers)
            wanted.append(
                (
                    s.id,
                    (
                        Text(
                            STATUS_MARK[s.status] + ("!" if s.point_of_no_return else ""),
                            style=style,
                        ),
                        s.id,
                        s.title,
                        Text(status, style=style),
                        s.owner,
                        day_time(s.planned_start),
                        actual,
                        delay,
                        "; ".join(shown),
                    ),
                )
            )
        return wanted

    def on_resize(self) -> None:
        """Another width may fit other columns: lay the last view out again."""
        if self.size.width != self._laid_out and self._view is not None:
            first = not self._laid_out
            self.render_state(self._view)
            if first:
                self.post_message(ChecklistFilled())

    def _visible(self, s: StepView) -> bool:
        if (
            self.search
            and self.search.lower()
            not in " ".join((s.id, s.title, s.owner, s.phase, s.status)).lower()
        ):
            return False
        if self.filter == "open":
            return s.status in ("pending", "in_progress", "failed")
        if self.filter == "blocked":
            return bool(s.blockers) and s.status in ("pending", "in_progress")
        if self.filter == "finished":
            return s.finished
        return True

    def current_step(self) -> str | None:
        return self.query_one(KeyedTable).current_key()

    def focus_step(self, step_id: str) -> None:
        """Put the cursor on `step_id` (when it is shown under the current filter)."""
        table = self.query_one(KeyedTable)
        keys = [str(r.value) for r in table.rows]
        if step_id in keys:
            table.move_cursor(row=keys.index(step_id))
