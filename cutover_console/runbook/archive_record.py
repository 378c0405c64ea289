"""What the journal says about its witness: the checkpoints published and the publisher's faults.

Folded like the live signals, so the lead's console, a watcher, `cutover status`, the reports and
an export's VERIFY.md all show the same latest published checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..journal import events as ev
from ..journal.chain import Event

KINDS = frozenset({ev.ARCHIVE_PUBLISHED, ev.ARCHIVE_FAULT})


@dataclass
class ArchiveRecord:
    location: str = ""
    latest_seq: int = 0
    latest_hash: str = ""
    latest_at: str = ""  # when it was published (UTC, journal format)
    published: int = 0  # checkpoints published, all told
    archived_seq: int = 0  # the last event in a published segment, as of the latest record
    fault: str = ""  # the current fault's kind ("" when publishing works)
    fault_detail: str = ""
    fault_at: datetime | None = None

    @property
    def latest(self) -> str:
        return f"{self.latest_seq}:{self.latest_hash}" if self.latest_seq else ""

    def apply(self, event: Event, at: datetime) -> None:
        p: dict[str, Any] = event.payload
        self.location = str(p.get("location", self.location))
        if event.kind == ev.ARCHIVE_PUBLISHED:
            checkpoints = p.get("checkpoints")
            if isinstance(checkpoints, list) and checkpoints:
                last = checkpoints[-1]
                if isinstance(last, dict) and type(last.get("seq")) is int:
                    self.latest_seq = last["seq"]
                    self.latest_hash = str(last.get("hash", ""))
                    self.latest_at = str(last.get("at", ""))
                self.published += len(checkpoints)
            archived = p.get("archived_seq")
            if type(archived) is int:
                self.archived_seq = archived
            if self.fault == "behind":  # a later run published again: nothing is left behind
                self.fault, self.fault_detail, self.fault_at = "", "", None
        elif event.kind == ev.ARCHIVE_FAULT:
            self.fault = str(p.get("fault") or "")
            self.fault_detail = str(p.get("detail", ""))
            self.fault_at = at
