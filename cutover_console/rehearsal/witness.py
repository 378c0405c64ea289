"""The rehearsal world's witness: its moto server's Object Lock bucket, and the headless demo's
checks that every checkpoint was published and that a restore reproduces the journal's head."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..archive.engine import configure
from ..archive.objects import ArchiveFault, open_store
from ..archive.restore import RestoreRefused, restore
from ..archive.settings import ArchiveSettings, archive_settings
from ..archive.witness import WitnessProblem, WitnessRefused, read_checkpoints
from ..journal import JournalReader
from ..journal import events as ev
from .world import WITNESS_BUCKET

if TYPE_CHECKING:
    from .demo import DemoSetup


def configure_witness(demo: DemoSetup, archive: str | None = None) -> ArchiveSettings:
    """Witness the demo's journal: in the world's bucket (its endpoint set for this process
    only), or at `archive` (then the AWS configuration says where that is)."""
    if archive is None:
        os.environ["AWS_ENDPOINT_URL_S3"] = demo.world.route53.endpoint
        # a prefix of its own: a process's moto servers share their buckets across worlds
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        archive = f"s3://{WITNESS_BUCKET}/{demo.document.plan.cutover.id}/{stamp}"
    settings = archive_settings(demo.document.plan, archive)
    assert settings is not None
    configure(demo.journal, settings)
    return settings


def witness_checks(demo: DemoSetup, settings: ArchiveSettings) -> dict[str, tuple[bool, str]]:
    """Read from the witness itself, after the run (the world still up)."""
    where = settings.location
    with JournalReader(demo.journal) as reader:
        events = list(reader.events())
    head = events[-1]
    decisions = [e.seq for e in events if e.kind in ev.DECISIONS]
    checks: dict[str, tuple[bool, str]] = {}
    try:
        witnessed = read_checkpoints(
            open_store(where),
            cutover=demo.document.plan.cutover.id,
            journal=events[0].hash,
        )
        published = {c.seq for c in witnessed.checkpoints}
        missing = [seq for seq in decisions if seq not in published]
        latest = witnessed.latest
        checks["every checkpoint published"] = (
            bool(published) and not missing,
            f"{len(published)} signed checkpoint(s) in {where}, one at each of the "
            f"{len(decisions)} decision(s), latest {latest.seq if latest else '-'}"
            if not missing
            else f"no checkpoint for decision event(s) {', '.join(map(str, missing[:8]))}",
        )
    except (WitnessProblem, WitnessRefused, ArchiveFault) as exc:
        checks["every checkpoint published"] = (False, str(exc))
    target = demo.journal.with_name(f"{demo.journal.stem}-restored.sqlite")
    try:
        done = restore(str(where), target)
        same = done.complete and done.head.seq == head.seq and done.head.hash == head.hash
        checks["a restore reproduces the same head"] = (
            same,
            f"{target.name}: {done.head.seq} events from {where}, head "
            f"{done.head.seq}:{done.head.hash[:12]}… "
            + ("= the journal's" if same else f"≠ the journal's {head.seq}:{head.hash[:12]}…"),
        )
    except (RestoreRefused, OSError) as exc:
        checks["a restore reproduces the same head"] = (False, str(exc))
    return checks
