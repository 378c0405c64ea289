"""The `cutover` command. Every user error becomes a message and an exit status, never a traceback.

Exit status: 0 ok; 1 refused (a rule said no) or verification failed; 2 bad input (plan, journal,
usage); 3 the journal is held by another writer.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import __version__
from ..journal import IdempotencyConflict, JournalError, JournalLocked
from ..plan import PlanInvalid
from ..runbook import ActionRefused
from ..settings import SettingsError


class CutoverGroup(click.Group):
    """Turns the errors people can fix into messages with stable exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PlanInvalid as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            ctx.exit(2)
        except ActionRefused as exc:
            click.echo(str(exc), err=True)
            ctx.exit(1)
        except JournalLocked as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(3)
        except IdempotencyConflict as exc:  # a rule said no: the key holds another event
            click.echo(f"refused: {exc}", err=True)
            ctx.exit(1)
        except JournalError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except SettingsError as exc:  # the console's settings file: fix it, start again
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=CutoverGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cutover")
def cli() -> None:
    """Run a migration cutover from the terminal, on a hash-chained audit journal."""


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="cutover")


from . import (  # noqa: E402  (registers the commands)
    archive_cmds,
    console_cmds,
    demo_cmd,
    dns_cmd,
    flows_cmd,
    journal_cmds,
    plan_cmds,
    report_cmds,
    serve_cmd,
    service_cmds,
    status_cmds,
)

__all__ = [
    "archive_cmds",
    "cli",
    "console_cmds",
    "demo_cmd",
    "dns_cmd",
    "flows_cmd",
    "journal_cmds",
    "main",
    "plan_cmds",
    "report_cmds",
    "serve_cmd",
    "service_cmds",
    "status_cmds",
]

if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
