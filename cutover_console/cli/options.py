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


def operator_option(fn: F) -> F:
    """`--as PERSON`: who is at the console's keyboard."""
    return click.option(
        "--as",
        "operator",
        default=None,
        envvar="CUTOVER_PERSON",
        help="Who is at the keyboard (a person id; default: the plan's first lead).",
    )(fn)


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


def serve_option(fn: F) -> F:
    """`--serve [ADDR:PORT]`: also serve the read-only console over SSH from this process."""
    return click.option(
        "--serve",
        "serve_at",
        is_flag=False,
        flag_value="127.0.0.1:2222",
        default=None,
        metavar="[ADDR:PORT]",
        help="Also serve the read-only console over SSH "
        "(default 127.0.0.1:2222); the header shows who is watching.",
    )(fn)


def serve_options(serve_at: str | None, authorized_keys: Path, host_key: Path) -> Any:
    """The `ServeOptions` for `--serve`, or None; a bad address or missing keys file is a usage
    error that names the option."""
    if serve_at is None:
        return None
    from ..ui.app import ServeOptions

    host, _, port = serve_at.rpartition(":")
    if not port.isdigit() or not authorized_keys.exists():
        raise click.BadParameter(
            "give ADDR:PORT, and an existing --authorized-keys file", param_hint="--serve"
        )
    return ServeOptions(host or "127.0.0.1", int(port), authorized_keys, host_key)
