"""The keys: every binding has an id, so a settings file can remap it (`settings.py`)."""

from __future__ import annotations

from textual.binding import Binding, BindingType

READ_BINDINGS: list[BindingType] = [
    Binding("question_mark", "help", "Help", id="help"),
    Binding("slash", "search", "Search", id="search"),
    Binding("t", "cycle_filter", "Filter", id="filter"),
    Binding("1", "show_pane('dns')", "DNS", id="pane-dns"),
    Binding("2", "show_pane('flows')", "Flows", id="pane-flows"),
    Binding("3", "show_pane('logs')", "Logs", id="pane-logs"),
    Binding("4", "show_pane('journal')", "Journal", id="pane-journal"),
    Binding("m", "toggle_maximize", "Maximize", id="maximize"),
    Binding("q", "quit", "Quit", id="quit"),
]
WRITE_BINDINGS: list[BindingType] = [
    Binding("s", "start_step", "Start", id="start"),
    Binding("c", "complete_step", "Complete", id="complete"),
    Binding("x", "fail_step", "Fail", show=False, id="fail"),
    Binding("k", "skip_step", "Skip", show=False, id="skip"),
    Binding("o", "reopen_step", "Re-open", show=False, id="reopen"),
    Binding("g", "sign_off", "Sign off", id="signoff"),
    Binding("n", "add_note", "Note", id="note"),
    Binding("v", "override_gate", "Override", show=False, id="override"),
    Binding("a", "run_action", "Action", show=False, id="action"),
    Binding("r", "rollback_step", "Roll back", show=False, id="rollback"),
]
