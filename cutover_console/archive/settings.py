"""How a cutover is witnessed: where, for how long objects are locked, how far behind it may be."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from .location import ArchiveLocation

if TYPE_CHECKING:
    from ..plan.model import Plan

DEFAULT_RETENTION = timedelta(days=90)
DEFAULT_LAG = timedelta(seconds=60)
DEFAULT_CHECKPOINT_EVERY = timedelta(minutes=5)


@dataclass(frozen=True)
class ArchiveSettings:
    location: ArchiveLocation
    retention: timedelta = DEFAULT_RETENTION  # compliance-mode lock of every object
    lag: timedelta = DEFAULT_LAG  # everything journaled is archived within this
    checkpoint_every: timedelta = DEFAULT_CHECKPOINT_EVERY  # and at every decision


def archive_settings(plan: Plan, command_line: str | None) -> ArchiveSettings | None:
    """The plan's `archive:` section, with `--archive s3://BUCKET/PREFIX` winning over its `to:`;
    None when neither asks for a witness. The command line's address is checked here (the
    plan's was checked when it was loaded)."""
    section = plan.archive
    if command_line is None and section is None:
        return None
    address = command_line if command_line is not None else section.to if section else ""
    location = ArchiveLocation.parse(address, allow_directory=False)
    if section is None:
        return ArchiveSettings(location)
    return ArchiveSettings(location, section.retention, section.lag, section.checkpoint_every)
