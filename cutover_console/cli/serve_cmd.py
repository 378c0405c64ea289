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
@click.option("--max-per-key", default=5, show_default=True)
@click.option(
    "--idle-timeout",
    default=8 * 3600,
    show_default=True,
    help="Seconds without a keystroke before a session is closed.",
)
def serve(
    journal: Path,
    host: str,
    port: int,
    authorized_keys: Path,
    host_key: Path,
    max_sessions: int,
    max_per_key: int,
    idle_timeout: int,
) -> None:
    """Serve the read-only console (`cutover watch`) to every authenticated SSH session."""
    from ..sshwatch.server import Limits, WatchHub, load_or_create_host_key, serve_forever

    JournalReader(journal).close()  # a clear error now rather than in every session
    if not authorized_keys.exists():
        raise click.UsageError(
            f"{authorized_keys} does not exist: put teammates' public keys "
            "there (one per line) or pass --authorized-keys"
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    key = load_or_create_host_key(host_key)
    limits = Limits(
        max_sessions=max_sessions, max_per_key=max_per_key, idle_timeout=float(idle_timeout)
    )
    hub = WatchHub(journal, limits=limits)

    def ready() -> None:
        click.echo(f"serving {journal} read-only on {host}:{port}")
        click.echo(
            f"host key fingerprint: {key.get_fingerprint()}  (teammates: check it on first connect)"
        )
        click.echo(f"watch with: ssh -t -p {port} {host}")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(hub, host, port, key, authorized_keys, ready))
