"""`cutover run` (the lead's console) and `cutover watch` (read-only, same machine)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from ..plan import load_plan
from . import cli
from .archive_cmds import archive_option, configure_archive
from .options import (
    journal_option,
    new_journal_option,
    operator_option,
    serve_option,
    serve_options,
    ssh_server_options,
)
from .output import echo


@cli.command()
@click.argument("plan", type=click.Path(path_type=Path))
@new_journal_option("state/<cutover id>.sqlite; an existing journal is resumed")
@operator_option
@click.option("--rehearsal", is_flag=True, help="Create the journal as a rehearsal run.")
@click.option("--no-engines", is_flag=True, help="Do not run the DNS and flow engines.")
@serve_option
@ssh_server_options
@archive_option
def run(
    plan: Path,
    journal: Path | None,
    operator: str | None,
    rehearsal: bool,
    no_engines: bool,
    serve_at: str | None,
    authorized_keys: Path,
    host_key: Path,
    archive: str | None,
) -> None:
    """Open (or resume) the cutover of PLAN in the full-screen console.

    The journal's service (its one writer, and the engines) runs in its own process: started
    here, or attached to when it already runs. Closing the console leaves it running unless you
    say to stop it; `cutover run` again attaches in under a second.
    """
    from ..service import process
    from ..service.console_session import ServiceSession
    from ..service.lead import create_journal

    document = load_plan(plan)
    p = document.plan
    path = journal or Path("state") / f"{p.cutover.id}.sqlite"
    if operator is not None and operator not in {x.id for x in p.people}:
        raise click.BadParameter(f"'{operator}' is not a person in the plan", param_hint="--as")
    settings = configure_archive(path, p, archive)
    if not path.exists():
        create_journal(path, document, mode="rehearsal" if rehearsal else "live").close()
    running = process.status(path)
    if running is None:
        witness = str(settings.location) if archive is not None and settings else None
        with contextlib.suppress(process.ServiceAlreadyRunning):  # another start won: attach
            process.start(path, engines=not no_engines, archive=witness)
    elif archive is not None:
        echo(
            f"note: attached to the running journal service (pid {running['pid']}); --archive "
            "applies when it starts (stop it with `cutover service stop` to change the witness)",
            err=True,
        )
    elif running["engines"] == no_engines:
        echo(
            f"note: attached to the running journal service (pid {running['pid']}), whose "
            f"engines are {'on' if running['engines'] else 'off'}",
            err=True,
        )
    session = ServiceSession(path)
    try:
        if session.state.document.sha256 != document.sha256:
            echo(
                f"note: {plan} differs from the plan in {path}; the journal's plan is used "
                "(record the edit with `cutover revise`)",
                err=True,
            )
        from ..ui.app import LeadApp

        serve = serve_options(serve_at, authorized_keys, host_key)
        # the console follows the service's journal; the engines themselves run in the service
        app = LeadApp(session, operator=operator, engines=True, serve=serve)
        app.run()
    finally:
        session.close()
    echo(f"journal {path} — checkpoint {session.state.head}")
    if process.status(path) is None:
        return
    if app.stop_service:  # the lead chose it on quitting
        pid = process.stop(path)
        echo(f"journal service stopped (pid {pid})")
    else:
        echo(f"journal service still running: `cutover service stop -j {path}` stops it")


@cli.command()
@journal_option
def watch(journal: Path) -> None:
    """Follow a cutover read-only: the same screen as the lead's, with no way to change it."""
    from ..runbook.session import WatchSession
    from ..ui.app import WatchApp

    session = WatchSession(journal)
    try:
        WatchApp(session).run()
    finally:
        session.close()
