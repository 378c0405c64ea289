"""What this process's publisher is doing, for the console's clock bar: light to import (a
watcher's screen loads it and runs no publisher)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..untrusted import inert
from .objects import FAULT_KINDS

if TYPE_CHECKING:
    from ..runbook.archive_record import ArchiveRecord
    from .publisher import ArchivePublisher, PublisherStatus

running: dict[Path, ArchivePublisher] = {}  # by journal, filled by the archive engine


def running_status(journal: Path | None) -> PublisherStatus | None:
    """The status of the publisher of `journal` running in this process (the lead's console
    runs one; a watcher's, or a console whose engines run in a journal service, none). Only
    that journal's: another one's publisher, say of an earlier console, is not this one's."""
    found = running.get(journal.resolve()) if journal is not None else None
    return found.status if found is not None else None


def witness_text(journaled: dict[str, Any] | None, journal: Path | None) -> str:
    """The clock bar's words on the witness: this process's publisher live (lag, retry), else
    what the journal says (latest checkpoint, the fault as journaled). "" with no witness."""
    live = running_status(journal)
    if live is not None:
        return live.line()
    if not journaled:
        return ""
    if journaled.get("fault"):
        return f"witness FAULT {FAULT_KINDS.get(journaled['fault'], journaled['fault'])}"
    latest = str(journaled.get("latest_checkpoint") or "").partition(":")[0]
    return f"witness ok {latest or '-'}"


def witness_detail(journaled: ArchiveRecord, journal: Path | None) -> str:
    """The journal pane's sentence on the witness: this process's publisher live (archived
    events, lag, the fault in full), else what the journal says. "" with no witness."""
    found = running_status(journal)
    if found is not None:
        if found.fault:
            retry = f", retried in {found.retry_in_s:.0f} s" if found.retry_in_s > 0 else ""
            return inert(f"witness {found.location}: FAULT {found.detail}{retry}", limit=400)
        return inert(
            f"witness {found.location}: events archived to {found.archived_seq} of "
            f"{found.head_seq} (lag {found.lag_s:.0f} s), latest checkpoint "
            f"{found.checkpoint or 'none yet'}",
            limit=400,
        )
    if not journaled.location:
        return ""
    if journaled.fault:
        return inert(
            f"witness {journaled.location}: FAULT {journaled.fault_detail} (as journaled)",
            limit=400,
        )
    return inert(
        f"witness {journaled.location}: latest published checkpoint "
        f"{journaled.latest or 'none yet'} {journaled.latest_at}",
        limit=400,
    )
