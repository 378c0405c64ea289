"""`cutover service start|status|stop|run -j J`: the journal's service process."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import cli
from .options import journal_option
from .output import echo


@cli.group()
def service() -> None:
    """The journal service: the one writer of a journal and its engines, in its own process.

    While it runs, `cutover step/signoff/note/override-gate/action/revise` send their requests to
    it (same rules, messages and exit codes), and `cutover run` attaches to it.
    """


@service.command("start")
@journal_option
@click.option("--no-engines", is_flag=True, help="Do not run the DNS, flow and log engines.")
def start_command(journal: Path, no_engines: bool) -> None:
    """Start the service for a journal, detached (it outlives this terminal)."""
    from ..service import process

    running = process.status(journal)
    if running is not None:
        echo(f"the journal service of {journal} already runs (pid {running['pid']})")
        return
    try:
        pid = process.start(journal, engines=not no_engines)
    except process.ServiceAlreadyRunning as exc:  # another start won the race
        echo(str(exc))
        return
    echo(f"journal service of {journal} started (pid {pid})")


@service.command("status")
@journal_option
def status_command(journal: Path) -> None:
    """Whether the service runs, since when, its engines and their errors. Exit 1 when none."""
    from ..service import process
    from ..service.address import ServiceAddress

    info = process.status(journal)
    if info is None:
        echo(f"no journal service runs for {journal}")
        sys.exit(1)
    done, total = info["progress"]
    echo(f"journal service of {journal}: running, pid {info['pid']} since {info['since']}")
    echo(f"  cutover {info['cutover']}: {done}/{total} steps done, head {info['head']}")
    engines = "on" if info["engines"] else "off (--no-engines)"
    echo(
        f"  engines {engines}; {info['clients']} client(s) connected; {info['requests']} request(s)"
    )
    for name, error in sorted(info["engine_errors"].items()):
        echo(f"  engine {name} failed: {error}", limit=400)
    echo(f"  socket {ServiceAddress.of(journal).socket}")


@service.command("stop")
@journal_option
def stop_command(journal: Path) -> None:
    """Stop the service: its engines stop, the journal is closed cleanly. Exit 1 when none."""
    from ..service import process

    pid = process.stop(journal)
    if pid is None:
        echo(f"no journal service runs for {journal}")
        sys.exit(1)
    echo(f"journal service of {journal} (pid {pid}) stopped")
    from .archive_cmds import witness_at_stop

    left = witness_at_stop(journal)
    if left:
        echo(left, limit=600)


@service.command("run", hidden=True)
@journal_option
@click.option("--no-engines", is_flag=True)
def run_command(journal: Path, no_engines: bool) -> None:
    """The service in the foreground (what `start` launches detached)."""
    from ..service.server import main

    main(journal, engines=not no_engines)
