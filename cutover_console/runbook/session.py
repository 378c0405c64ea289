"""A watcher's view of a live cutover: read-only, folded from the journal.

No UI here. A watcher has no writer at all: it opens the journal read-only and folds in what the
writer's process appends. (The lead's session, with the writer and the engines, is
`service.lead.LeadSession`.)
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from pathlib import Path
from typing import Any

from ..journal import Event, JournalReader
from .comms_ledger import CommsFollower
from .fold import CutoverState
from .snapshot import resume_state

POLL_CHUNK = 100  # events folded per hold of the lock
RECENT = 300  # the newest events a session keeps at hand (what the Journal pane shows)


def newest_events(reader: JournalReader, seq: int, head: int) -> list[Event]:
    """The events after `seq` read from the journal, at most the newest RECENT up to `head`
    (and whatever came after it)."""
    return list(itertools.islice(reader.events(after=max(seq, head - RECENT)), RECENT))


class WatchSession:
    """A read-only view: no writer exists in this process; new events are folded in as they land."""

    read_only = True

    def __init__(self, journal: Path, state: CutoverState | None = None) -> None:
        """`state`: a fold of this journal already in memory (a warm parent's), caught up here;
        without it, the fold snapshot beside the journal, or a full fold."""
        self.reader = JournalReader(journal)
        self.lock = threading.RLock()
        self.state = resume_state(self.reader, state)
        self.engine_errors: dict[str, str] = {}
        # the newest events folded in, for the Journal pane (it shows the newest 300): handed
        # over from the fold instead of read and decoded again on the screen's loop
        self.recent: deque[Event] = deque(maxlen=RECENT)
        # the stakeholder updates (issue 22), folded here with the state, on the follower's
        # thread: the Comms pane and the clock bar read this, never the journal
        self.comms = (
            CommsFollower.of_journal(self.reader, self.state.head_seq)
            if self.state.plan.comms is not None
            else CommsFollower()
        )

    def poll(self) -> list[Event]:
        """Fold in the events appended since the last call (call from a worker thread).

        A hundred events at a time, the lock released in between: the screen reads the state
        under the same lock, and a burst of engine events (hundreds a second) folded in one
        hold kept a key press waiting for all of it. The state is a fold of a prefix of the
        journal after each event, so what the screen sees in between is consistent."""
        new: list[Event] = []
        while True:
            with self.lock:
                chunk = list(
                    itertools.islice(self.reader.events(after=self.state.head_seq), POLL_CHUNK)
                )
                for event in chunk:
                    self.state.apply(event)
                self.recent.extend(chunk)
                self.comms.fold(chunk)
            new += chunk
            if len(chunk) < POLL_CHUNK:
                return new

    def follow_comms(self) -> int:
        """The comms ledger's version (`poll` folds the comms events with the state)."""
        return self.comms.version

    def events_after(self, seq: int) -> list[Event]:
        """The folded events after `seq`, at most the newest RECENT (call under the lock)."""
        recent = self.recent
        if recent and recent[0].seq <= seq + 1:
            return [e for e in recent if e.seq > seq]
        return newest_events(self.reader, seq, self.state.head_seq)

    def log_lines(self, after: int = 0) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.reader.log_lines(after)

    def close(self) -> None:
        self.reader.close()
