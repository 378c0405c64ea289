"""The `cutover` command. Every user error becomes a message and an exit status, never a traceback.

Exit status: 0 ok; 1 refused (a rule said no) or verification failed; 2 bad input (plan, journal,
usage); 3 the journal is held by another writer.

Each command's module is imported when that command runs (`COMMANDS`), and the errors are
matched without importing the modules that raise them: a script's `cutover note` to a running
journal service loads the CLI, the service's client and nothing else.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from .. import __version__

# command -> the module that defines it (tests/unit/test_cli.py checks this against the modules)
COMMANDS = {
    "action": "journal_cmds",
    "check": "plan_cmds",
    "comms": "comms_cmds",
    "demo": "demo_cmd",
    "dns": "dns_cmd",
    "events": "status_cmds",
    "export": "report_cmds",
    "export-plan": "sheet_cmds",
    "flows": "flows_cmd",
    "import": "sheet_cmds",
    "init": "journal_cmds",
    "note": "request_cmds",
    "override-gate": "request_cmds",
    "report": "report_cmds",
    "restore": "archive_cmds",
    "revise": "journal_cmds",
    "run": "console_cmds",
    "schema": "sheet_cmds",
    "serve": "serve_cmd",
    "service": "service_cmds",
    "signoff": "request_cmds",
    "status": "status_cmds",
    "step": "request_cmds",
    "tabletop": "journal_cmds",
    "verify": "status_cmds",
    "watch": "console_cmds",
}


def loaded_class(module: str, name: str) -> type[BaseException] | None:
    """An exception class, if its module was imported (if not, nothing raised it)."""
    found = sys.modules.get(module)
    value = getattr(found, name, None) if found is not None else None
    return value if isinstance(value, type) else None


def exit_code(exc: BaseException) -> tuple[int, list[str]] | None:
    """The exit status and the lines to print for an error people can fix; None for others."""

    def isa(module: str, name: str) -> bool:
        cls = loaded_class(module, name)
        return cls is not None and isinstance(exc, cls)

    if isa("cutover_console.plan.problems", "PlanInvalid"):
        return 2, [str(problem) for problem in exc.problems]  # type: ignore[attr-defined]
    if isa("cutover_console.runbook.actions", "ActionRefused"):
        return 1, [str(exc)]
    if isa("cutover_console.journal.lock", "JournalLocked"):
        return 3, [f"error: {exc}"]
    if isa("cutover_console.journal.errors", "IdempotencyConflict"):
        return 1, [f"refused: {exc}"]  # a rule said no: the key holds another event
    if isa("cutover_console.journal.errors", "JournalError"):
        return 2, [f"error: {exc}"]
    if isa("cutover_console.settings", "SettingsError"):
        return 2, [f"error: {exc}"]  # the console's settings file: fix it, start again
    return None


class CutoverGroup(click.Group):
    """Loads a command's module when it is asked for; turns the errors people can fix into
    messages with stable exit codes."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"{__name__}.{COMMANDS[cmd_name]}")  # registers it
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            if "--json" in ctx.args:  # the command name aside, its arguments
                from .output import json_only_stdout

                with json_only_stdout():
                    return super().invoke(ctx)
            return super().invoke(ctx)
        except Exception as exc:
            known = exit_code(exc)
            if known is None:
                raise
            code, lines = known
            for line in lines:
                click.echo(line, err=True)
            ctx.exit(code)


@click.group(cls=CutoverGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cutover")
def cli() -> None:
    """Run a migration cutover from the terminal, on a hash-chained audit journal."""


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="cutover")


__all__ = ["COMMANDS", "cli", "exit_code", "loaded_class", "main"]

if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
