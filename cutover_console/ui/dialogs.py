"""Modal dialogs: a reason, a person, a confirmation with a preview. Every text shown in them
passes the untrusted-text boundary: a preview or a refusal may quote what a probe, a plan or a
person wrote."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from ..untrusted import BLOCK_LIMIT, CELL_LIMIT
from ..untrusted import text as literal


def _title(value: str) -> Label:
    return Label(literal(value, limit=CELL_LIMIT), classes="dialog-title")


def _body(value: str) -> Static:
    return Static(literal(value, limit=BLOCK_LIMIT, multiline=True), classes="dialog-prompt")


class ReasonDialog(ModalScreen[str | None]):
    """Ask for a reason (or a note's text). Empty input is not accepted."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, prompt: str, hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.prompt = prompt
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield _title(self.title_text)
            yield _body(self.prompt)
            yield Input(placeholder=self.hint, id="reason")
            yield Static("", id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _submit(self) -> None:
        value = self.query_one(Input).value.strip()
        if not value:
            self.query_one("#dialog-error", Static).update("A reason is required.")
            return
        self.dismiss(value)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Picker(ModalScreen[str | None]):
    """Pick one of a few choices by id: a person for a sign-off (eligible people first, with
    their roles), a gate to override, what quitting does to the journal service."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, people: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.people = people

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield _title(self.title_text)
            yield OptionList(
                *[Option(literal(label), id=pid) for pid, label in self.people], id="people"
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A preview and a yes/no (refusals to override, actions to run)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("y", "yes", "Yes"),
    ]

    def __init__(self, title: str, body: str, yes: str = "Yes", safe_default: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.yes = yes
        self.safe_default = safe_default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield _title(self.title_text)
            yield _body(self.body)
            yield Static(
                f"Cancel is the default: Enter or Esc cancels and nothing happens. "
                f"{self.yes.rstrip('…')}: press y, or Tab to the button and Enter.",
                classes="dialog-hint",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="warning", id="yes")
                yield Button("Cancel (default)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class TypedConfirmDialog(ModalScreen[bool]):
    """A confirmation that cannot be given by reflex: the person types `word` (the step id)
    after reading what becomes impossible. Enter on anything else, or Esc, cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, body: str, word: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.word = word

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog ponr"):
            yield _title(self.title_text)
            yield _body(self.body)
            yield Static(
                literal(
                    f"Type {self.word} and press Enter to pass it; Esc cancels.", limit=CELL_LIMIT
                ),
                classes="dialog-hint",
            )
            yield Input(placeholder=self.word, id="confirm-word")
            yield Static("", id="dialog-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Pass the point of no return", variant="error", id="yes")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _submit(self) -> None:
        if self.query_one(Input).value.strip() == self.word:
            self.dismiss(True)
        else:
            self.query_one("#dialog-error", Static).update(
                literal(
                    f"Type {self.word} exactly to confirm (or Esc to cancel).", limit=CELL_LIMIT
                )
            )

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self._submit()
        else:
            self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)
