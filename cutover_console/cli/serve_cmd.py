"""`cutover serve`: teammates watch the cutover read-only over SSH."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import click

from ..journal import JournalReader
from . import cli
from .options import journal_option, ssh_server_options


@cli.command()
@journal_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=2222, show_default=True, help="Port to listen on.")
@ssh_server_options
@click.option("--max-sessions", default=50, show_default=True)
@click.option(
    "--max-connections",
    default=50,
    show_default=True,
    help="Authenticated connections, with or without a session (`ssh -N` takes one too).",
)
@click.option(
    "--max-per-key", default=5, show_default=True, help="Sessions and connections per key."
)
@click.option(
    "--idle-timeout",
    default=8 * 3600,
    show_default=True,
    help="Seconds without a keystroke before a session is closed.",
)
@click.option(
    "--no-session-timeout",
    default=30.0,
    show_default=True,
    help="Seconds an authenticated connection may stay open without a session.",
)
@click.option(
    "--login-timeout", default=20.0, show_default=True, help="Seconds allowed to authenticate."
)
@click.option(
    "--connection-rate",
    default=3.0,
    show_default=True,
    help="New connections a second per source address, after a burst of --connection-burst.",
)
@click.option("--connection-burst", default=10, show_default=True)
@click.option(
    "--max-unauthenticated",
    default=64,
    show_default=True,
    help="Connections not yet authenticated; when full, the oldest is dropped for a newcomer.",
)
@click.option(
    "--keepalive-interval",
    default=15.0,
    show_default=True,
    help="Seconds between keepalives; a client missing --keepalive-count-max + 1 is closed.",
)
@click.option("--keepalive-count-max", default=3, show_default=True)
@click.option(
    "--viewers",
    type=click.Choice(["fork", "spawn"]),
    default="fork",
    show_default=True,
    help="How each viewer starts: forked from a warm parent that has the console loaded, or as "
    "a fresh interpreter (slower to start, more memory).",
)
def serve(
    journal: Path,
    host: str,
    port: int,
    authorized_keys: Path,
    host_key: Path,
    max_sessions: int,
    max_connections: int,
    max_per_key: int,
    idle_timeout: int,
    no_session_timeout: float,
    login_timeout: float,
    connection_rate: float,
    connection_burst: int,
    max_unauthenticated: int,
    keepalive_interval: float,
    keepalive_count_max: int,
    viewers: str,
) -> None:
    """Serve the read-only console (`cutover watch`) to every authenticated SSH session."""
    from ..sshwatch.server import (
        Limits,
        WatchHub,
        algorithms,
        load_or_create_host_key,
        serve_forever,
    )

    JournalReader(journal).close()  # a clear error now rather than in every session
    if not authorized_keys.exists():
        raise click.UsageError(
            f"{authorized_keys} does not exist: put teammates' public keys "
            "there (one per line) or pass --authorized-keys"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    # asyncssh writes four lines for every connection, even one refused before its banner: a
    # flood would fill the log; the server logs its own refusals, sessions and errors
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    key = load_or_create_host_key(host_key)
    try:
        algorithms(key)  # a clear error now, not a traceback from inside the event loop
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    limits = Limits(
        max_sessions=max_sessions,
        max_connections=max_connections,
        max_per_key=max_per_key,
        idle_timeout=float(idle_timeout),
        no_session_timeout=no_session_timeout,
        login_timeout=login_timeout,
        connection_rate=connection_rate,
        connection_burst=connection_burst,
        max_unauthenticated=max_unauthenticated,
        keepalive_interval=keepalive_interval,
        keepalive_count_max=keepalive_count_max,
    )
    hub = WatchHub(journal, limits=limits, viewers=viewers)

    def ready() -> None:
        click.echo(f"serving {journal} read-only on {host}:{port}")
        click.echo(
            f"host key fingerprint: {key.get_fingerprint()}  (teammates: check it on first connect)"
        )
        click.echo(f"watch with: ssh -t -p {port} {host}")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(hub, host, port, key, authorized_keys, ready))
