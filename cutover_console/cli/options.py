"""Options shared by the commands that touch a journal."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

F = Callable[..., Any]


def journal_option(fn: F) -> F:
    return click.option(
        "--journal",
        "-j",
        "journal",
        required=True,
        envvar="CUTOVER_JOURNAL",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The journal file (or set CUTOVER_JOURNAL).",
    )(fn)


def by_option(fn: F) -> F:
    return click.option(
        "--by",
        "by",
        required=True,
        envvar="CUTOVER_PERSON",
        help="Who is acting: a person id from the plan (or set CUTOVER_PERSON).",
    )(fn)


def idem_option(fn: F) -> F:
    return click.option(
        "--idempotency-key",
        "idem",
        default=None,
        help="Retry-safe key: the same key records the action once, however often it is sent.",
    )(fn)


def new_journal_option(default_help: str) -> Callable[[F], F]:
    """`--journal` for commands that create a journal (optional; a default path is derived)."""

    def wrap(fn: F) -> F:
        return click.option(
            "--journal",
            "-j",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help=f"Where to create it (default: {default_help}).",
        )(fn)

    return wrap


def ssh_server_options(fn: F) -> F:
    """--authorized-keys and --host-key, for `serve` and `run --serve`."""
    fn = click.option(
        "--host-key",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("state/ssh_host_ed25519_key"),
        show_default=True,
        help="The SSH server's key: created once (mode 0600), then reused.",
    )(fn)
    return click.option(
        "--authorized-keys",
        type=click.Path(dir_okay=False, path_type=Path),
        default=Path("state/authorized_keys"),
        show_default=True,
        help="Public keys allowed to watch (OpenSSH format; `from=` honoured).",
    )(fn)
