"""The publisher: runs beside the engines and puts the journal where nobody can rewrite it.

It reads the journal through its own read-only connection (like a watcher), so it never holds
the session's lock nor waits on a journal write; every boto3 call runs on its own thread, never
on the event loop a key press is handled on. Each round:

- new events become a segment (`segments/FIRST-LAST.jsonl`) once the oldest one has waited a
  quarter of the lag bound, or at once when a checkpoint needs them;
- a signed checkpoint is published at every decision event (at that event's seq) and, while the
  journal grows, at least every `checkpoint_every`; segments first, so every checkpoint lies
  within the archived events;
- what it published, and every change of fault, is handed back to be journaled (by `system`).

A failure is a fault of a kind (unreachable, credentials, access denied, no Object Lock,
retention not set, another history in the prefix): retried with backoff up to a minute, shown in
`status`, journaled once per change of kind, never raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from ..clock import Clock, SystemClock, format_ts
from ..journal import Event, JournalError, JournalReader
from ..journal import events as ev
from .checkpoints import FOLDER as CHECKPOINTS
from .checkpoints import PublishedCheckpoint, checkpoint_seq
from .objects import FAULT_KINDS, ArchiveFault, S3Objects, StoredObject
from .segments import FOLDER as SEGMENTS
from .segments import MAX_SEGMENT_BYTES, SegmentProblem, decode, encode, segment_name, segment_range
from .settings import ArchiveSettings

SEGMENT_EVENTS = 10_000  # at most per segment the publisher writes
SEGMENT_BYTES = 8 << 20
PENDING_LIMIT = 50_000  # events held in memory while the witness is unreachable
MAX_BACKOFF = 60.0
POLL = 1.0
OWN_KINDS = frozenset({ev.ARCHIVE_PUBLISHED, ev.ARCHIVE_FAULT})
Record = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class PublisherStatus:
    """What the console shows: where, how far, and what is wrong (read from any thread)."""

    location: str
    archived_seq: int = 0
    head_seq: int = 0
    lag_s: float = 0.0  # how long the oldest event not yet archived has waited
    checkpoint: str = ""  # the latest published, SEQ:HASH
    checkpoints: int = 0  # published by this process
    fault: str = ""
    detail: str = ""
    retry_in_s: float = 0.0
    started: bool = False

    def line(self) -> str:
        """One short line: `witness ok 1234 · lag 2s`, or the fault and when it is retried."""
        if self.fault:
            retry = f" · retry in {self.retry_in_s:.0f}s" if self.retry_in_s > 0 else ""
            return f"witness FAULT {FAULT_KINDS.get(self.fault, self.fault)}{retry}"
        if not self.started:
            return "witness starting"
        seq = self.checkpoint.partition(":")[0] or "-"
        return f"witness ok {seq} · lag {self.lag_s:.0f}s"


@dataclass
class _Round:
    """What one round published (to journal) and what it measured."""

    checkpoints: list[PublishedCheckpoint] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)


class ArchivePublisher:
    """Publishes one journal to one witness prefix. `step()` is one blocking round (call it from
    a thread, or from a command with no screen, e.g. the tabletop); `run()` drives it on the
    asyncio loop of the console; `finish()` publishes what is left at the end."""

    def __init__(
        self,
        journal: Path,
        settings: ArchiveSettings,
        key: asyncssh.SSHKey,
        *,
        clock: Clock | None = None,
        store: S3Objects | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.journal = journal
        self.settings = settings
        self.key = key
        self.signer = str(key.get_fingerprint())
        self.clock = clock or SystemClock()
        self.store = store or S3Objects(settings.location, settings.retention)
        self._now = monotonic
        self._lock = threading.Lock()  # one round at a time (run's thread, finish)
        self._reader: JournalReader | None = None
        self._ready = False
        self._cutover = ""
        self._first_hash = ""
        self._seen = 0  # events read so far
        self._seen_hash = ""
        self._pending: list[Event] = []  # read, not yet archived
        self._seen_at: deque[tuple[int, float]] = deque()  # (last seq of a read, when)
        self._archived = 0
        self._wanted: list[tuple[int, str]] = []  # checkpoints to publish, (seq, hash)
        self._last_foreign = 0  # the last event that is not the publisher's own
        self._checkpoint = (0, "")
        self._checkpoint_at = self._now()
        self._checked_retention = False
        self._fault: ArchiveFault | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._unrecorded: list[str] = []  # segments published since the last record
        self.published = 0
        self.lags: list[float] = []  # seconds from read to archived, per read (benchmarks)
        self.status = PublisherStatus(str(settings.location))

    # -- one round -----------------------------------------------------------------------
    def step(self, *, final: bool = False) -> list[Record]:
        """Read what is new, publish what is due; returns the events to journal."""
        with self._lock:
            now = self._now()
            if now < self._retry_at and not final:
                self._update_status(now)
                return []
            records: list[Record] = []
            try:
                if not self._ready:
                    self._prepare()
                self._read()
                done = self._publish(now, final=final)
                self._record_round(done, records)
                if self._fault is not None:
                    records.append(self._fault_record(None))
                    self._fault = None
                self._failures = 0
                self._retry_at = 0.0
            except ArchiveFault as fault:
                self._failed(fault, now, records)
            except JournalError as exc:
                self._failed(ArchiveFault("error", f"reading the journal: {exc}"), now, records)
            self._update_status(self._now())
            return records

    def _failed(self, fault: ArchiveFault, now: float, records: list[Record]) -> None:
        self._failures += 1
        backoff = min(MAX_BACKOFF, 2.0 ** (self._failures - 1)) * random.uniform(1.0, 1.2)
        self._retry_at = now + backoff
        if fault.kind in ("no-object-lock", "conflict", "no-bucket"):
            self._ready = False  # checked again from the start on the next attempt
        if self._fault is None or self._fault.kind != fault.kind:
            records.append(self._fault_record(fault))
        self._fault = fault

    def _fault_record(self, fault: ArchiveFault | None) -> Record:
        payload: dict[str, Any] = {
            "location": str(self.settings.location),
            "fault": fault.kind if fault else None,
            "detail": fault.message if fault else "publishing again",
        }
        return ev.ARCHIVE_FAULT, payload

    def _record_round(self, done: _Round, records: list[Record]) -> None:
        self._unrecorded.extend(done.segments)
        self.lags.extend(done.lags)
        if not done.checkpoints:
            return
        records.append(
            (
                ev.ARCHIVE_PUBLISHED,
                {
                    "location": str(self.settings.location),
                    "checkpoints": [
                        {"seq": c.seq, "hash": c.hash, "at": c.at, "object": c.name}
                        for c in done.checkpoints
                    ],
                    "segments": self._unrecorded[-200:],
                    "archived_seq": self._archived,
                    "signer": self.signer,
                },
            )
        )
        self._unrecorded = []

    def _update_status(self, now: float) -> None:
        waiting = next((at for seq, at in self._seen_at if seq > self._archived), None)
        fault = self._fault
        latest, digest = self._checkpoint
        self.status = PublisherStatus(
            str(self.settings.location),
            archived_seq=self._archived,
            head_seq=self._seen,
            lag_s=0.0 if waiting is None else max(0.0, now - waiting),
            checkpoint=f"{latest}:{digest}" if latest and digest else "",
            checkpoints=self.published,
            fault=fault.kind if fault else "",
            detail=fault.message if fault else "",
            retry_in_s=max(0.0, self._retry_at - now) if fault else 0.0,
            started=self._ready,
        )

    # -- getting ready: the bucket, and where this journal's archive stands --------------------
    def _prepare(self) -> None:
        if self._reader is None:
            self._reader = JournalReader(self.journal)
        first = next(self._reader.events(), None)
        if first is None:
            raise JournalError(f"{self.journal}: the journal holds no events")
        self._cutover = str(first.payload.get("cutover", ""))
        self._first_hash = first.hash
        self.store.check_object_lock()
        archived = self._archived_head()
        latest = max(
            (s for o in self.store.list(CHECKPOINTS) if (s := checkpoint_seq(o.name))),
            default=0,
        )
        self._archived = archived
        self._checkpoint = (min(latest, archived), self._checkpoint[1])
        # decisions after the last checkpoint still get theirs; events already archived are not
        # uploaded again
        self._seen = min(latest, archived)
        self._seen_hash = ""
        self._pending = []
        self._seen_at.clear()
        self._ready = True

    def _archived_head(self) -> int:
        """The last event in the prefix's contiguous segments, once they are known to be this
        journal's (the first and the last segment's events are compared with it)."""
        spans = sorted(
            (span, o) for o in self.store.list(SEGMENTS) if (span := segment_range(o.name))
        )
        head = 0
        ends: list[tuple[int, StoredObject]] = []
        for (first, last), obj in spans:
            if first != head + 1:
                if first <= head:
                    continue  # a segment written again after a lost answer: the same events
                break
            head = last
            ends.append((last, obj))
        if not ends:
            return 0
        assert self._reader is not None
        for seq, obj in {ends[0], ends[-1]}:
            try:
                rows = decode(obj.name, self.store.read(obj, MAX_SEGMENT_BYTES))
            except SegmentProblem as exc:
                raise ArchiveFault("conflict", f"{self.settings.location}: {exc}") from None
            ours = next(self._reader.events(after=seq - 1), None)
            if ours is None or ours.seq != seq or ours.hash != rows[-1].hash:
                raise ArchiveFault(
                    "conflict",
                    f"{self.settings.location} holds events up to {head} of another history "
                    f"(event {seq} is not this journal's): publish this journal to another "
                    "prefix",
                )
        return head

    # -- reading and publishing ---------------------------------------------------------------
    def _read(self) -> None:
        if len(self._pending) >= PENDING_LIMIT:
            return  # the witness is behind; the journal keeps the rest until it catches up
        assert self._reader is not None
        new = []
        for event in self._reader.events(after=self._seen):
            new.append(event)
            if len(self._pending) + len(new) >= PENDING_LIMIT:
                break
        if not new:
            return
        for event in new:
            if event.kind not in OWN_KINDS:
                self._last_foreign = event.seq
                if event.kind in ev.DECISIONS and event.seq > self._checkpoint[0]:
                    self._wanted.append((event.seq, event.hash))
            if event.seq > self._archived:
                self._pending.append(event)
        self._seen, self._seen_hash = new[-1].seq, new[-1].hash
        self._seen_at.append((self._seen, self._now()))

    def _publish(self, now: float, *, final: bool) -> _Round:
        done = _Round()
        periodic = self.settings.checkpoint_every.total_seconds()
        if (
            self._last_foreign > self._checkpoint[0]
            and (final or now - self._checkpoint_at >= periodic)
            and self._seen_hash
            and not any(seq == self._seen for seq, _ in self._wanted)
        ):
            self._wanted.append((self._seen, self._seen_hash))
        oldest = next((at for seq, at in self._seen_at if seq > self._archived), None)
        flush_after = max(1.0, self.settings.lag.total_seconds() / 4)
        due = bool(self._wanted) or final or (oldest is not None and now - oldest >= flush_after)
        while self._pending and (due or len(self._pending) >= SEGMENT_EVENTS):
            self._upload_segment(done)
        for seq, digest in list(self._wanted):
            if seq > self._archived:
                break
            checkpoint = PublishedCheckpoint(
                self._cutover, self._first_hash, seq, digest, format_ts(self.clock.now())
            )
            self.store.put(f"{checkpoint.name}.sig", checkpoint.sign(self.key))
            self.store.put(checkpoint.name, checkpoint.text().encode())
            self._wanted.remove((seq, digest))
            done.checkpoints.append(checkpoint)
            self.published += 1
            if seq > self._checkpoint[0]:
                self._checkpoint = (seq, digest)
            self._checkpoint_at = now
        return done

    def _upload_segment(self, done: _Round) -> None:
        chunk: list[Event] = []
        size = 0
        for event in self._pending[:SEGMENT_EVENTS]:
            line = len(event.payload) + 512  # a cheap bound, checked on the bytes below
            if chunk and size + line > SEGMENT_BYTES:
                break
            chunk.append(event)
            size += line
        data = encode(chunk)
        while len(data) > SEGMENT_BYTES and len(chunk) > 1:
            chunk = chunk[: len(chunk) // 2]
            data = encode(chunk)
        name = segment_name(chunk[0].seq, chunk[-1].seq)
        version = self.store.put(name, data)
        if not self._checked_retention:
            self.store.check_retention(name, version)
            self._checked_retention = True
        self._archived = chunk[-1].seq
        del self._pending[: len(chunk)]
        now = self._now()
        while self._seen_at and self._seen_at[0][0] <= self._archived:
            done.lags.append(now - self._seen_at.popleft()[1])
        done.segments.append(name)

    # -- driving it --------------------------------------------------------------------------
    async def run(
        self, stop: asyncio.Event, record: Callable[[str, dict[str, Any]], Awaitable[Any]]
    ) -> None:
        """Rounds on a thread of its own until `stop`; `record(kind, payload)` journals what a
        round hands back (the session's journal thread does the writing)."""
        loop = asyncio.get_running_loop()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive")
        try:
            while not stop.is_set():
                for kind, payload in await loop.run_in_executor(pool, self.step):
                    with contextlib.suppress(JournalError):  # the journal says why elsewhere
                        await record(kind, payload)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL)
        finally:
            pool.shutdown(wait=False)

    def finish(
        self, record: Callable[[str, dict[str, Any]], Any], deadline_s: float = 15.0
    ) -> bool:
        """At the end of a run: publish everything journaled (a last checkpoint if the journal
        grew since the latest) and its record; True when the archive caught up."""
        ends = self._now() + deadline_s
        for _attempt in range(3):
            for kind, payload in self.step(final=True):
                with contextlib.suppress(JournalError):
                    record(kind, payload)
            if self._fault is None and not self._wanted:
                break
            pause = min(self._retry_at, ends) - self._now()
            if self._now() >= ends:
                break
            time.sleep(max(0.0, min(pause, 5.0)))
        self._read_tail()
        return self._fault is None and self._archived >= self._seen

    def _read_tail(self) -> None:
        """The publisher's own last record goes into a last segment (with no checkpoint of its
        own: it would need another record)."""
        with self._lock:
            if not self._ready or self._fault is not None:
                return
            try:
                self._read()
                done = _Round()
                while self._pending:
                    self._upload_segment(done)
            except (ArchiveFault, JournalError):
                return
            finally:
                self._update_status(self._now())

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            self._ready = False  # a later round starts again from the archive's listing

