"""`cutover demo`: the rehearsal world, with you or the autopilot as the lead."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..invocation import cutover_command, shell_path
from . import cli
from .archive_cmds import archive_option, finish_publishing
from .options import (
    new_journal_option,
    operator_option,
    serve_option,
    serve_options,
    ssh_server_options,
)
from .output import echo

if TYPE_CHECKING:
    from ..archive.settings import ArchiveSettings
    from ..rehearsal.demo import DemoSetup
    from ..ui.app import ServeOptions


@cli.command()
@click.option(
    "--headless",
    is_flag=True,
    help="No screen: an autopilot lead (and a second person for two-person sign-offs) runs the "
    "whole cutover; exit 0 when it is complete.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0.1, max=1000),
    default=None,
    help="World seconds per real second (default 20 on screen, 120 headless).",
)
@new_journal_option("state/demo/<time>/journal.sqlite")
@click.option(
    "--shops",
    type=click.IntRange(1, 5000),
    default=300,
    show_default=True,
    help="How many body shops upload in the world.",
)
@operator_option
@serve_option
@ssh_server_options
@archive_option
def demo(
    headless: bool,
    speed: float | None,
    journal: Path | None,
    shops: int,
    operator: str | None,
    serve_at: str | None,
    authorized_keys: Path,
    host_key: Path,
    archive: str | None,
) -> None:
    """Start the rehearsal world and run its cutover (checklists/demo.yaml).

    The world, all on loopback: Route 53 (moto) behind an authoritative DNS server, five caching
    resolvers (one capped, one sticky, one dead), the old server and the new side (uploads,
    health URL, database, log each), a sync job, and a few hundred body shops uploading
    through their resolvers. Nothing to install beyond this package. The journal is witnessed
    in the world's S3 bucket with Object Lock (or at --archive).
    """
    from ..rehearsal.demo import setup
    from ..rehearsal.world import WorldError, WorldOptions

    speed = speed or (120.0 if headless else 20.0)
    try:
        prepared = setup(speed, journal, world_options=WorldOptions(shops=shops))
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    plan = prepared.document.plan
    if operator is not None and operator not in {p.id for p in plan.people}:
        raise click.BadParameter(
            f"'{operator}' is not a person in the demo plan", param_hint="--as"
        )
    from ..archive.location import LocationInvalid
    from ..rehearsal.witness import configure_witness

    try:
        witness = configure_witness(prepared, archive)
    except LocationInvalid as exc:
        raise click.BadParameter(str(exc), param_hint="--archive") from None
    try:
        if headless:
            _headless(prepared, speed, shops, witness)
        else:
            _interactive(prepared, operator, serve_options(serve_at, authorized_keys, host_key))
    except WorldError as exc:
        raise click.ClickException(str(exc)) from None


def _headless(prepared: DemoSetup, speed: float, shops: int, witness: ArchiveSettings) -> None:
    from ..plan.timeparse import format_duration
    from ..rehearsal.demo import run_headless, write_reports

    plan = prepared.document.plan
    opens = plan.cutover.window.start.astimezone(plan.zone)
    echo(
        f"rehearsal world: {shops} body shops, 5 resolvers, Route 53 on loopback; "
        f"clock x{speed:g} from {opens:%a %Y-%m-%d %H:%M %Z}"
    )
    outcome = run_headless(prepared, lambda line: echo(f"  {line}"), witness)
    echo("")
    for name, (ok, detail) in outcome.checks.items():
        echo(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}")
    world = outcome.world
    echo(
        f"  world: {world['uploads_old']} uploads reached the old side, {world['uploads_new']} "
        f"the new side; {world['stragglers']} shop(s) pinned the old address, quiet: "
        f"{', '.join(world['quiet']) or 'none'}; {world['upload_errors']} failed upload(s)"
    )
    if outcome.blocked:
        echo("  blocked:")
        for step, why in outcome.blocked.items():
            echo(f"    {step}: {why}")
    reports = write_reports(prepared.journal, prepared.journal.parent)
    clock = prepared.clock
    began = (clock.start - clock.skipped).astimezone(plan.zone)
    ended = clock.now().astimezone(plan.zone)
    skipped = f", {format_duration(clock.skipped)} skipped" if clock.skipped else ""
    echo(
        f"\n{'complete' if outcome.ok else 'NOT complete'}: {outcome.world_minutes:.0f} world "
        f"minutes in {outcome.wall_s:.1f} s (world time {began:%a %H:%M} to {ended:%a %H:%M}"
        f"{skipped})"
    )
    echo(f"journal  {prepared.journal}")
    echo(f"world    {prepared.directory}")
    for path in reports:
        echo(f"report   {path}")
    from ..sheets.exporter import export_plan  # the plan as reviewers read it (openpyxl, lazily)

    sheet = prepared.journal.parent / "plan.xlsx"
    export_plan(prepared.document, sheet)
    echo(f"plan     {sheet} (cutover export-plan; cutover import reads it back)")
    echo(f"verify   {cutover_command()} verify {shell_path(prepared.journal)}")
    echo(f"witness  {witness.location} (S3 Object Lock, compliance mode)")
    sys.exit(0 if outcome.ok else 1)


def _interactive(prepared: DemoSetup, operator: str | None, serve: ServeOptions | None) -> None:
    from ..rehearsal.demo import open_session, start_skipper
    from ..ui.app import LeadApp

    prepared.world.start()
    try:
        session = open_session(prepared)
        try:
            plan = session.state.plan
            me = (
                plan.person(operator)
                if operator
                else next(p for p in plan.people if "lead" in p.roles)
            )
            shops = prepared.world.options.shops
            welcome = (
                f"The rehearsal world is running: {shops} body shops, Route 53, five resolvers, "
                f"the old and the new side; its clock runs x{prepared.clock.speed:g}. You are "
                f"{me.name} ({', '.join(me.roles)}). Saturday: stand the new side up. "
                "↑/↓ move between steps, s starts the focused step, c completes it, g signs "
                "off, a runs its action, 1-5 switch panes (5: the stakeholder updates), ? lists "
                "every key."
            )
            app = LeadApp(session, operator=operator, engines=True, serve=serve, welcome=welcome)

            def notify(text: str) -> None:
                with contextlib.suppress(RuntimeError):  # the app is not running (yet, or now)
                    app.call_from_thread(app.notify, text, title="Rehearsal world", timeout=10)

            halt = start_skipper(session, prepared.clock, notify)
            try:
                app.run()
            finally:
                halt()
            finish_publishing(prepared.journal, session)  # what the quit left unpublished
        finally:
            session.close()
    finally:
        prepared.world.stop()
    run, journal = cutover_command(), shell_path(prepared.journal)
    echo(f"journal {prepared.journal} — checkpoint {session.state.head}")
    echo(f"report: {run} report --journal {journal} -o report.html")
    echo(f"export: {run} export --journal {journal} -o bundle")
