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
from ..table import KeyedTable

STATUS_MARK = {
    "pending": "·",
    "in_progress": "▶",
    "done": "✔",
    "failed": "✘",
    "skipped": "↷",
    "rolled_back": "↺",
}
FILTERS = ("all", "open", "blocked", "finished")


class Checklist(Vertical):
    """Phases and steps with state, owner, planned vs actual, delay and what blocks them."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search steps (Enter to apply, Esc to clear)", id="search")
        yield KeyedTable(id="steps", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(KeyedTable)
        table.add_columns(
            "", "step", "title", "status", "owner", "planned", "actual", "delay", "blocked by"
        )
        self.query_one(Input).display = False
        self.filter = "all"
        self.search = ""

    def render_state(self, summary: dict[str, Any]) -> None:
        wanted: list[tuple[str, tuple[Any, ...]]] = []
        for s in summary["steps"]:
            if not self._visible(s):
                continue
            actual = day_time(s["actual_start"])
            if s["actual_end"]:
                actual += f"–{day_time(s['actual_end'])[-5:]}"
            delay = ""
            if s["delay_s"] is not None and abs(s["delay_s"]) >= 60:
                delay = short_duration(timedelta(seconds=s["delay_s"]))
            style = STATUS_STYLE[s["status"]]
            status = s["status"].replace("_", " ") + (" OVERRUN" if s["overrun"] else "")
            blockers = s["blockers"]
            waiting = [b for b in blockers if b.startswith("waits for")]
            shown = waiting[:1] if waiting else blockers
            wanted.append(
                (
                    s["id"],
                    (
                        Text(
                            STATUS_MARK[s["status"]] + ("!" if s["point_of_no_return"] else ""),
                            style=style,
                        ),
                        s["id"],
                        literal(s["title"], limit=34),
                        Text(status, style=style),
                        s["owner"],
                        day_time(s["planned_start"]),
                        actual,
                        delay,
                        "; ".join(shown)[:70],
                    ),
                )
            )
        self.query_one(KeyedTable).fill(wanted)

    def _visible(self, s: dict[str, Any]) -> bool:
        if (
            self.search
            and self.search.lower()
            not in " ".join((s["id"], s["title"], s["owner"], s["phase"], s["status"])).lower()
        ):
            return False
        if self.filter == "open":
            return s["status"] in ("pending", "in_progress", "failed")
        if self.filter == "blocked":
            return bool(s["blockers"]) and s["status"] in ("pending", "in_progress")
        if self.filter == "finished":
            return s["status"] in ("done", "skipped")
        return True

    def current_step(self) -> str | None:
        return self.query_one(KeyedTable).current_key()
