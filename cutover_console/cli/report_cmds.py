"""`cutover report` and `cutover export`: documentation and the client's verifiable bundle."""

from __future__ import annotations

import sys
from datetime import UTC
from pathlib import Path

import click

from ..journal import JournalReader
from . import cli
from .options import journal_option
from .output import echo


@cli.command()
@journal_option
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="report.md (Markdown) or report.html (one self-contained file).",
)
@click.option(
    "--at",
    "at",
    default=None,
    metavar="TIME",
    help="The cutover as it stood then (ISO 8601; naive = the client's time zone).",
)
@click.option("--status", "status_only", is_flag=True, help="The one-page status report.")
@click.option(
    "--rehearsal",
    "rehearsal_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Compare step times with this rehearsal journal (default for a live run: the latest "
    "rehearsal of the same cutover at or below the journal's folder).",
)
@click.option("--no-rehearsal", is_flag=True, help="Leave the rehearsal comparison out.")
def report(
    journal: Path,
    output: Path,
    at: str | None,
    status_only: bool,
    rehearsal_path: Path | None,
    no_rehearsal: bool,
) -> None:
    """Write the cutover report from the journal (same journals, same bytes)."""
    from ..clock import format_ts
    from ..plan.timeparse import TimeSyntaxError, parse_time
    from ..report.document import build
    from ..report.render import html_document, markdown
    from ..runbook.fold import CutoverState

    if output.suffix not in (".md", ".html"):
        raise click.BadParameter("the output must end in .md or .html", param_hint="--output")
    with JournalReader(journal) as reader:
        until = None
        if at is not None:
            first = next(reader.events())
            zone = CutoverState.from_events([first]).plan.zone
            try:
                when = parse_time(at)
            except TimeSyntaxError as exc:
                raise click.BadParameter(str(exc), param_hint="--at") from None
            until = format_ts((when if when.tzinfo else when.replace(tzinfo=zone)).astimezone(UTC))
        events = list(reader.events(until_ts=until))
    state = CutoverState.from_events(events)
    rehearsal = None
    if not no_rehearsal and not status_only:
        from ..report import rehearsal as rehearsals

        if rehearsal_path is None and state.mode == "live":
            rehearsal_path = rehearsals.find_latest(journal, state.plan.cutover.id)
        if rehearsal_path is not None:
            rehearsal = rehearsals.load(rehearsal_path)
            if rehearsal.state.plan.cutover.id != state.plan.cutover.id:
                raise click.BadParameter(
                    f"{rehearsal_path} is a journal of '{rehearsal.state.plan.cutover.id}', "
                    f"not '{state.plan.cutover.id}'",
                    param_hint="--rehearsal",
                )
            echo(f"comparing with rehearsal {rehearsal_path}")
    document = build(state, events, status_only=status_only, rehearsal=rehearsal)
    text = markdown(document) if output.suffix == ".md" else html_document(document)
    output.write_text(text, encoding="utf-8")
    echo(f"wrote {output} ({len(events)} events, head {state.head})")


@cli.command()
@journal_option
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The bundle directory.",
)
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="OpenSSH private key that signs the bundle (default: export_signing_key in the "
    "journal's folder, the witness publisher's key too; created once if absent).",
)
def export(journal: Path, output: Path, sign_key: Path | None) -> None:
    """Write the bundle a client keeps: journal copy, events, report, signed checkpoint."""
    from rich.progress import Progress

    from ..keys import export_key_path
    from ..report.bundle import BundleProblem, signing_key
    from ..report.bundle import export as write_bundle

    key_path = sign_key if sign_key is not None else export_key_path(journal)
    try:
        key = signing_key(key_path)
        with Progress(transient=True) as progress:
            task = progress.add_task("exporting", total=None)

            def tick(what: str, done: int, total: int) -> None:
                progress.update(task, description=what, completed=done, total=total)

            head = write_bundle(journal, output, key, tick)
    except BundleProblem as exc:
        echo(f"error: {exc}", err=True)
        sys.exit(2)
    echo(f"exported {output}: checkpoint {head}")
    echo(
        f"signed by {key.get_fingerprint()} (give the client this fingerprint); "
        f"key {key_path.resolve()}"
    )
