"""The witness on the command line: `--archive` for run, demo and tabletop; `cutover restore`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import cli
from .output import NOTES_SHOWN, echo

if TYPE_CHECKING:
    from ..archive.publisher import ArchivePublisher
    from ..archive.settings import ArchiveSettings
    from ..clock import Clock
    from ..plan.model import Plan
    from ..runbook import Cutover
    from ..service.lead import LeadSession

F = Callable[..., Any]


def archive_option(fn: F) -> F:
    return click.option(
        "--archive",
        "archive",
        default=None,
        metavar="s3://BUCKET/PREFIX",
        help="Publish signed checkpoints and the events to this S3 prefix (Object Lock, "
        "compliance mode); wins over the plan's archive.to. Endpoint and credentials come from "
        "the AWS configuration (profile, environment, AWS_ENDPOINT_URL_S3).",
    )(fn)


def archive_settings_for(plan: Plan, archive: str | None) -> ArchiveSettings | None:
    """The plan's `archive:` with `--archive` winning; a bad address is a usage error."""
    from ..archive.location import LocationInvalid
    from ..archive.settings import archive_settings

    try:
        return archive_settings(plan, archive)
    except LocationInvalid as exc:
        raise click.BadParameter(str(exc), param_hint="--archive") from None


def configure_archive(journal: Path, plan: Plan, archive: str | None) -> ArchiveSettings | None:
    """Tell the engines of this process where `journal` is witnessed, before they start (a
    journal service this command starts is told with `process.start(archive=...)`)."""
    from ..archive.engine import configure

    settings = archive_settings_for(plan, archive)
    configure(journal, settings)
    return settings


def finish_publishing(journal: Path, session: LeadSession) -> None:
    """After the console closed (the session still open): whatever the engine could not publish
    before it was stopped, then one line on where the witness stands."""
    import asyncio

    from ..archive import live
    from ..archive.engine import publisher

    found = publisher(journal)
    if found is None:
        return

    def record(kind: str, payload: dict[str, Any]) -> None:
        asyncio.run(session.act(lambda c: c.record_archive(kind, payload)))

    caught_up = found.finish(record, 15.0)
    if not caught_up and found.left:  # the next `status` says what was left (issue 21)
        record("archive.fault", found.behind_record())
    found.close()
    live.running.pop(found.journal, None)
    echo(witness_line(found, caught_up))


def witness_at_stop(journal: Path) -> str:
    """After a journal service stopped: where its witness stands, as the journal says (what
    the publisher left unarchived, if anything). "" when the journal is not witnessed."""
    from ..journal import JournalError, JournalReader
    from ..runbook import load_state

    try:
        with JournalReader(journal) as reader:
            record = load_state(reader).archive
    except JournalError:
        return ""
    if not record.location:
        return ""
    if record.fault:
        return f"witness {record.location}: NOT caught up: {record.fault_detail}"
    return (
        f"witness {record.location}: caught up at stop; latest checkpoint {record.latest or 'none'}"
    )


def witness_line(found: ArchivePublisher, caught_up: bool) -> str:
    status = found.status
    if status.fault:
        return (
            f"witness {status.location}: NOT caught up ({status.detail}); the journal keeps "
            "everything, run again to publish the rest"
        )
    return (
        f"witness {status.location}: {found.published} checkpoint(s) published by this run, "
        f"latest {status.checkpoint or 'none'}; events archived to {status.archived_seq}"
        + ("" if caught_up else f" (not caught up: {found.left or 'see status'})")
    )


@cli.command()
@click.argument("source", metavar="s3://BUCKET/PREFIX|DIR")
@click.option(
    "--journal",
    "-j",
    "journal",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The journal to write (a new file).",
)
@click.option(
    "--up-to-last-good",
    is_flag=True,
    help="When a segment is missing or altered, write the journal up to the last good event "
    "(marked as shorter) instead of refusing.",
)
@click.option(
    "--signer-fingerprint",
    default=None,
    help="The export key's fingerprint: every checkpoint must be signed by it.",
)
def restore(
    source: str, journal: Path, up_to_last_good: bool, signer_fingerprint: str | None
) -> None:
    """Rebuild a journal from its archive (on another machine): the segments, chain verified,
    every published checkpoint checked on the way; the restore is journaled as a recovery that
    names where it came from. Then `cutover run PLAN --journal NEW` resumes the cutover. Exit 0
    restored (complete, or shorter with --up-to-last-good), 1 refused, 2 bad usage."""
    from ..archive.location import LocationInvalid
    from ..archive.restore import RestoreRefused
    from ..archive.restore import restore as rebuild

    if journal.exists():
        raise click.BadParameter(
            f"{journal} already exists: give a new file", param_hint="--journal"
        )
    try:
        done = rebuild(source, journal, up_to_last_good=up_to_last_good, signer=signer_fingerprint)
    except LocationInvalid as exc:
        raise click.BadParameter(str(exc), param_hint="SOURCE") from None
    except RestoreRefused as exc:
        echo(f"REFUSED: {exc}", err=True, limit=4000)
        sys.exit(1)
    for note in done.notes[:NOTES_SHOWN]:
        echo(f"note: {note}", err=True)
    if len(done.notes) > NOTES_SHOWN:
        echo(f"note: … and {len(done.notes) - NOTES_SHOWN:,} more like these", err=True)
    latest = f"{done.latest.seq}:{done.latest.hash}" if done.latest else "none"
    if done.complete:
        echo(
            f"restored {journal}: {done.head.seq} events from {source}, chain intact; "
            f"{done.checkpoints} published checkpoint(s) verified (latest {latest}), signed by "
            f"{done.signer or 'nobody'}"
        )
    else:
        echo(
            f"restored {journal} SHORTER than the archive: {done.head.seq} events, up to the last "
            f"good one; {done.shortfall}",
            limit=4000,
        )
    echo(f"head {done.head} (the recovery event follows it)")
    echo(f"next: cutover run PLAN --journal {journal}   cutover verify {journal}")


class TabletopWitness:
    """The publisher beside a tabletop rehearsal: one round after each step (there is no screen
    to keep responsive), then everything left at the end."""

    def __init__(self, found: ArchivePublisher) -> None:
        self.publisher = found

    def after_step(self, cutover: Cutover) -> None:
        for kind, payload in self.publisher.step():
            cutover.record_archive(kind, payload)

    def finish(self, cutover: Cutover) -> None:
        caught_up = self.publisher.finish(cutover.record_archive, 15.0)
        self.publisher.close()
        echo(witness_line(self.publisher, caught_up))


def tabletop_witness(
    journal: Path, plan: Plan, archive: str | None, clock: Clock
) -> TabletopWitness | None:
    from ..archive.publisher import ArchivePublisher
    from ..keys import export_key_path
    from ..report.bundle import signing_key

    settings = archive_settings_for(plan, archive)
    if settings is None:
        return None
    return TabletopWitness(
        ArchivePublisher(journal, settings, signing_key(export_key_path(journal)), clock=clock)
    )
