"""The keys: every binding has an id, so a settings file can remap it (`settings.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding, BindingType
from textual.theme import BUILTIN_THEMES

from ..settings import Settings, load_settings, split_keys

READ_BINDINGS: list[BindingType] = [
    Binding("question_mark", "help", "Help", id="help"),
    Binding("slash", "search", "Search", show=False, id="search"),
    Binding("t", "cycle_filter", "Filter", show=False, id="filter"),
    Binding("1", "show_pane('dns')", "DNS", show=False, id="pane-dns"),
    Binding("2", "show_pane('flows')", "Flows", show=False, id="pane-flows"),
    Binding("3", "show_pane('logs')", "Logs", show=False, id="pane-logs"),
    Binding("4", "show_pane('journal')", "Journal", show=False, id="pane-journal"),
    Binding("5", "show_pane('comms')", "Comms", show=False, id="pane-comms"),
    Binding("m", "toggle_maximize", "Maximize", show=False, id="maximize"),
    Binding("q", "quit", "Quit", id="quit"),
]
WRITE_BINDINGS: list[BindingType] = [
    Binding("s", "start_step", "Start", id="start"),
    Binding("c", "complete_step", "Complete", id="complete"),
    Binding("x", "fail_step", "Fail", id="fail"),
    Binding("k", "skip_step", "Skip", id="skip"),
    Binding("o", "reopen_step", "Re-open", id="reopen"),
    Binding("g", "sign_off", "Sign off", id="signoff"),
    Binding("n", "add_note", "Note", id="note"),
    Binding("v", "override_gate", "Override", id="override"),
    Binding("a", "run_action", "Action", id="action"),
    Binding("r", "rollback_step", "Roll back", id="rollback"),
    Binding("u", "send_update", "Update", id="send-update"),
]

JOURNAL_BINDINGS: list[BindingType] = [
    Binding("e", "toggle_engine_events", "Engine events", id="journal-engine"),
]


def default_keys() -> dict[str, str]:
    """Every binding id of the console (lead and watcher) and its default keys."""
    return {
        b.id: b.key
        for b in (*READ_BINDINGS, *WRITE_BINDINGS, *JOURNAL_BINDINGS)
        if isinstance(b, Binding) and b.id is not None
    }


def read_settings(path: Path | None = None) -> Settings:
    """The settings file, checked against these bindings and Textual's themes."""
    return load_settings(default_keys(), BUILTIN_THEMES, path)


def keys_of(app: App[Any], binding: Binding) -> list[str]:
    """The keys that run `binding` now (the settings' keymap applied)."""
    keys = app._keymap.get(binding.id or "", binding.key) if binding.id else binding.key
    return split_keys(keys)


def key_label(app: App[Any], key: str) -> str:
    """A key as people name it: `?`, `/`, `ctrl+p`, `PgDn` — never `question_mark`."""
    return app.get_key_display(Binding(key, ""))
