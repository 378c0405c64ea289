"""The help screen (`?`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Markdown

from .commands import STEP_ACTIONS


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Markdown(self.text)

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)


def help_text(bindings: Iterable[BindingType], read_only: bool) -> str:
    """The keys of this console, and what else there is to know."""
    keys = "\n".join(f"| `{b.key}` | {b.description} |" for b in bindings if isinstance(b, Binding))
    mode = (
        "**Read-only watch.** Nothing typed here can change the cutover."
        if read_only
        else "**Lead console.** Every action is journaled before the screen shows it."
    )
    extra = (
        ""
        if read_only
        else (
            "\n\nThe command palette (`ctrl+p`) offers every action by name: "
            + ", ".join(a.name for a in STEP_ACTIONS)
            + "."
        )
    )
    return (
        f"# Keys\n\n{mode}\n\n| key | does |\n|---|---|\n{keys}\n"
        f"| `tab` | next pane |\n| `ctrl+p` | command palette |\n| `ctrl+q` | quit |{extra}"
        "\n\nPanes: `1` DNS · `2` Flows · `3` Logs · `4` Journal; `m` maximises the pane "
        "in focus. In the logs pane, filter with words, `source:NAME`, `level:ERROR`."
    )
