"""The help screen (`?`): the keys as they are bound now (a settings file may remap them), with
the names people use for them, and how to move around. It scrolls (PageDown, arrows, wheel)."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from .bindings import JOURNAL_BINDINGS, key_label, keys_of
from .commands import STEP_ACTIONS


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("down,j", "line(1)", "Down", show=False),
        Binding("up", "line(-1)", "Up", show=False),
        Binding("home", "edge(0)", "Top", show=False),
        Binding("end", "edge(1)", "Bottom", show=False),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self._closing_help = False

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog help", id="help"):
            yield Markdown(self.text)

    def action_page(self, direction: int) -> None:
        box = self.query_one("#help", VerticalScroll)
        (box.scroll_page_down if direction > 0 else box.scroll_page_up)(animate=False)

    def action_line(self, direction: int) -> None:
        box = self.query_one("#help", VerticalScroll)
        (box.scroll_down if direction > 0 else box.scroll_up)(animate=False)

    def action_edge(self, end: int) -> None:
        box = self.query_one("#help", VerticalScroll)
        (box.scroll_end if end else box.scroll_home)(animate=False)

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        # once: two close keys queued back to back (`??`, `?q`, a fast typist, a hostile
        # client) popped the screen below too, and the app died on an empty stack (issue 21)
        if self.is_current and not self._closing_help:
            self._closing_help = True
            self.dismiss(None)


def _keys(app: App[Any], binding: Binding) -> str:
    return " ".join(f"`{key_label(app, k)}`" for k in keys_of(app, binding))


def help_text(app: App[Any], read_only: bool) -> str:
    """The keys of this console as bound now, and what else there is to know."""
    bindings = [b for b in (*app.BINDINGS, *JOURNAL_BINDINGS) if isinstance(b, Binding)]
    keys = "\n".join(f"| {_keys(app, b)} | {b.description} | `{b.id}` |" for b in bindings if b.id)
    mode = (
        "**Read-only watch.** Nothing typed here can change the cutover."
        if read_only
        else "**Lead console.** Every action is journaled before the screen shows it. The "
        "footer shows the keys that apply to the step in focus."
    )
    palette = (
        ""
        if read_only
        else (
            "\n\nThe command palette (`ctrl+p`) offers every action by name: "
            + ", ".join(a.name for a in STEP_ACTIONS)
            + "."
        )
    )
    return (
        f"# Keys\n\n{mode}\n\n"
        "## Moving around\n\n"
        "| key | does |\n|---|---|\n"
        "| `↑` `↓` | move between steps (or rows of the table in focus) |\n"
        "| `tab` `shift+tab` | move the focus: checklist, panes, their tables |\n"
        "| mouse | click a step, a tab or a row; the wheel scrolls |\n"
        "| `PgUp` `PgDn` `Home` `End` | page through a table, and this help |\n"
        "| `ctrl+p` | command palette |\n| `ctrl+q` | quit |\n\n"
        "## Keys (as bound now)\n\n"
        f"| key | does | binding id |\n|---|---|---|\n{keys}{palette}\n\n"
        "Panes: DNS · Flows · Logs · Journal; `m` maximises the pane in focus. In the logs "
        "pane, filter with words, `source:NAME`, `level:ERROR`; the journal pane shows "
        "people's events, with engine events on its key, and filters by words too.\n\n"
        "## Remapping keys\n\n"
        "Put a `[keymap]` table in `$XDG_CONFIG_HOME/cutover-console/config.toml` (default "
        "`~/.config/cutover-console/config.toml`, or the file `CUTOVER_CONFIG` names): "
        'binding id = "keys", comma-separated, such as `start = "s,f5"`. '
        '`theme = "nord"` picks one of Textual\'s themes.'
    )
