"""The audit journal on disk: SQLite (WAL, synchronous=FULL), append-only, hash-chained.

One writer per journal (see `lock.py`); any number of readers in other processes open it with
`mode=ro` and `query_only`, so a reader has no write path at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..clock import Clock, SystemClock, format_ts
from . import events as ev
from .chain import (
    GENESIS,
    ChainReport,
    Checkpoint,
    Event,
    StoredRow,
    body_hash,
    canonical_json,
    recompute_hash,
    verify_rows,
)
from .lock import WriterLock, _os_user

APPLICATION_ID = 0x43555431  # "CUT1": lets us tell a journal from any other SQLite file
SCHEMA_VERSION = 1
_COLUMNS = "seq, ts, actor, os_user, kind, step, payload, v, idem, prev, hash"


class JournalError(Exception):
    """A journal cannot be used as asked; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a person of the plan (or `system`/`engine:*`) and the OS account."""

    person: str
    os_user: str

    @classmethod
    def here(cls, person: str) -> Actor:
        return cls(person, _os_user())


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA query_only = ON")
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def _row_event(row: tuple[Any, ...]) -> Event:
    seq, ts, actor, os_user, kind, step, payload_text, v, idem, prev, digest = row
    payload = json.loads(payload_text)
    if ev.needs_upgrade(kind, v):
        v, payload = ev.upgrade(kind, v, payload)
    return Event(seq, ts, actor, os_user, kind, step, payload, v, idem, prev, digest)


class JournalReader:
    """Read-only access. Safe while a writer appends in another process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise JournalError(
                f"{self.path}: no such journal (create one with `cutover init PLAN`)"
            )
        self.conn = self._open()
        self._check_identity()

    def _open(self) -> sqlite3.Connection:
        return _connect(self.path, readonly=True)

    def _check_identity(self) -> None:
        try:
            app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a readable SQLite file ({exc})") from None
        if app_id != APPLICATION_ID:
            raise JournalError(f"{self.path}: not a Cutover Console journal")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def events(self, after: int = 0, until_ts: str | None = None) -> Iterator[Event]:
        """Events with seq > `after` (and ts <= `until_ts`), payloads upgraded on read."""
        sql = f"SELECT {_COLUMNS} FROM events WHERE seq > ?"
        params: list[Any] = [after]
        if until_ts is not None:
            sql += " AND ts <= ?"
            params.append(until_ts)
        cursor = self.conn.execute(sql + " ORDER BY seq", params)
        while batch := cursor.fetchmany(2048):
            for row in batch:
                yield _row_event(row)

    def log_lines(self, after: int = 0, limit: int = 1000) -> list[tuple[Any, ...]]:
        """(id, at, source, side, level, text) rows with id > `after` (empty for old journals)."""
        try:
            return self.conn.execute(
                "SELECT id, at, source, side, level, text FROM log_lines WHERE id > ? "
                "ORDER BY id LIMIT ?",
                (after, limit),
            ).fetchall()
        except sqlite3.OperationalError:
            return []

    def head(self) -> Checkpoint | None:
        row = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return Checkpoint(row[0], row[1]) if row else None

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM events").fetchone()[0])

    def plan_payload(self) -> dict[str, Any]:
        """The plan in force: the latest `journal.created` or `plan.revised` payload's plan."""
        row = self.conn.execute(
            "SELECT payload FROM events WHERE kind IN (?, ?) ORDER BY seq DESC LIMIT 1",
            (ev.JOURNAL_CREATED, ev.PLAN_REVISED),
        ).fetchone()
        if row is None:
            raise JournalError(f"{self.path}: the journal holds no plan")
        plan: dict[str, Any] = json.loads(row[0])["plan"]
        return plan

    def raw_rows(self) -> Iterator[StoredRow]:
        """Rows exactly as stored, in storage order, for verification."""
        cursor = self.conn.execute(f"SELECT {_COLUMNS} FROM events ORDER BY rowid")
        while batch := cursor.fetchmany(4096):
            for r in batch:
                yield StoredRow(*r)

    def verify(self, expect: Checkpoint | None = None) -> ChainReport:
        """SQLite's integrity_check, then the whole hash chain (and the checkpoint, if given)."""
        problems = [r[0] for r in self.conn.execute("PRAGMA integrity_check").fetchall()]
        if problems != ["ok"]:
            report = ChainReport(problem=f"corrupt: SQLite integrity_check: {problems[0]}")
            report.details = problems
            return report
        return verify_rows(self.raw_rows(), expect)


def _create_schema(db: Any) -> None:  # a sqlite_utils.Database
    events = db.table("events")
    events.create(
        {
            "seq": int,
            "ts": str,
            "actor": str,
            "os_user": str,
            "kind": str,
            "step": str,
            "payload": str,
            "v": int,
            "idem": str,
            "prev": str,
            "hash": str,
        },
        pk="seq",
        not_null={"ts", "actor", "os_user", "kind", "payload", "v", "prev", "hash"},
    )
    events.create_index(["idem"], unique=True, index_name="events_idem")
    events.create_index(["kind"], index_name="events_kind")
    events.create_index(["step"], index_name="events_step")
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'the journal is append-only: events cannot be changed'); END"
    )
    db.execute(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'the journal is append-only: events cannot be deleted'); END"
    )
    _create_log_table(db)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


LOG_KEEP = 20_000  # log lines kept beside the journal (not evidence: outside the chain)


def _create_log_table(db: Any) -> None:  # a sqlite_utils.Database
    """Live log lines, bounded and outside the hash chain (an excerpt attached by the lead as a
    note is what becomes evidence)."""
    if "log_lines" not in db.table_names():
        db.table("log_lines").create(
            {"id": int, "at": str, "source": str, "side": str, "level": str, "text": str},
            pk="id",
        )


class JournalWriter(JournalReader):
    """The one process allowed to append. Use `create` or `open`; close to release the lock."""

    def __init__(self, path: Path, lock: WriterLock, clock: Clock) -> None:
        self._lock = lock
        self.clock = clock
        try:
            super().__init__(path)
        except BaseException:
            lock.release()
            raise
        head = self.head()
        self._head_seq, self._head_hash = (head.seq, head.hash) if head else (0, GENESIS)

    def _open(self) -> sqlite3.Connection:
        return _connect(self.path, readonly=False)

    @classmethod
    def create(
        cls,
        path: str | Path,
        plan_text: str,
        plan_sha256: str,
        plan_file: str,
        actor: Actor,
        *,
        cutover_id: str,
        mode: str = "live",
        clock: Clock | None = None,
    ) -> JournalWriter:
        """Create a journal for a plan. Refuses to touch an existing file."""
        path = Path(path)
        if path.exists():
            raise JournalError(
                f"{path} already exists: open it (status, step, run) or choose another --journal"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = WriterLock.acquire(path, "cutover init")
        try:
            conn = _connect(path, readonly=False)
            import sqlite_utils  # writers only: a reader (a watcher) stays small

            _create_schema(sqlite_utils.Database(conn))
            conn.close()
        except BaseException:
            lock.release()
            raise
        writer = cls(path, lock, clock or SystemClock())
        payload: dict[str, Any] = {
            "cutover": cutover_id,
            "plan": {"text": plan_text, "sha256": plan_sha256, "file": Path(plan_file).name},
            "mode": mode,  # live | rehearsal | tabletop (simulated clock)
            "rehearsal": mode != "live",
            "tool": f"cutover-console {__version__}",
        }
        speed = getattr(clock, "speed", None)
        if clock is not None and speed is not None and speed != 1:
            # a sped-up world (cutover demo): watchers rebuild its clock from this pair
            payload["clock"] = {
                "speed": speed,
                "world_at": format_ts(clock.now()),
                "real_at": format_ts(datetime.now(UTC)),
            }
        writer.append(ev.JOURNAL_CREATED, payload, actor=actor)
        return writer

    @classmethod
    def open(
        cls, path: str | Path, *, clock: Clock | None = None, command: str = "cutover"
    ) -> JournalWriter:
        """Open an existing journal for writing; journal a recovery if the last writer crashed."""
        path = Path(path)
        if not path.exists():
            raise JournalError(f"{path}: no such journal (create one with `cutover init PLAN`)")
        lock = WriterLock.acquire(path, command)
        writer = cls(path, lock, clock or SystemClock())
        writer._check_head()
        import sqlite_utils

        _create_log_table(sqlite_utils.Database(writer.conn))  # journals older than log lines
        if lock.previous:
            writer.append(
                ev.JOURNAL_RECOVERED,
                {"previous_writer": lock.previous, "resumed_at_seq": writer._head_seq},
                actor=Actor.here("system"),
            )
        return writer

    def _check_head(self) -> None:
        """Refuse to extend a chain whose last link is already broken."""
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM events ORDER BY seq DESC LIMIT 2"
        ).fetchall()
        if not rows:
            return
        last = StoredRow(*rows[0])
        expected_prev = rows[1][-1] if len(rows) > 1 else GENESIS
        if last.prev == expected_prev and recompute_hash(last) == last.hash:
            return
        self.close()
        raise JournalError(
            f"{self.path}: the last event ({last.seq}) does not match the chain; "
            "run `cutover verify` and do not write to this journal"
        )

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._lock.release()

    def append_many(
        self, items: list[tuple[str, dict[str, Any], Actor, str | None]]
    ) -> list[Event]:
        """Append several (kind, payload, actor, step) events in one durable transaction: an
        engine's batch of observations costs one fsync, not one each."""
        ts = format_ts(self.clock.now())
        events: list[Event] = []
        seq, prev = self._head_seq, self._head_hash
        for kind, payload, actor, step in items:
            seq += 1
            event = Event(
                seq,
                ts,
                actor.person,
                actor.os_user,
                kind,
                step,
                payload,
                ev.version_for(kind),
                None,
                prev,
                "",
            )
            event.hash = prev = body_hash(event.body())
            events.append(event)
        self._commit(events)
        return events

    def append(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        actor: Actor,
        step: str | None = None,
        idem: str | None = None,
    ) -> Event:
        """Durably append one event (one fsync'd transaction). A repeated `idem` returns the
        event recorded the first time instead of writing another."""
        if idem is not None:
            existing = self.conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE idem = ?", (idem,)
            ).fetchone()
            if existing is not None:
                return _row_event(existing)
        event = Event(
            self._head_seq + 1,
            format_ts(self.clock.now()),
            actor.person,
            actor.os_user,
            kind,
            step,
            payload,
            ev.version_for(kind),
            idem,
            self._head_hash,
            "",
        )
        event.hash = body_hash(event.body())
        self._commit([event])
        return event

    def append_log_lines(self, lines: list[tuple[str, str, str, str, str]]) -> None:
        """(at, source, side, level, text) rows; the oldest beyond LOG_KEEP are dropped."""
        if not lines:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(
                "INSERT INTO log_lines (at, source, side, level, text) VALUES (?,?,?,?,?)", lines
            )
            self.conn.execute(
                "DELETE FROM log_lines WHERE id <= (SELECT MAX(id) FROM log_lines) - ?", (LOG_KEEP,)
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _commit(self, events: list[Event]) -> None:
        """Insert events (already chained) in one transaction; the head moves only on success."""
        if not events:
            return
        rows = [
            (
                e.seq,
                e.ts,
                e.actor,
                e.os_user,
                e.kind,
                e.step,
                canonical_json(e.payload),
                e.v,
                e.idem,
                e.prev,
                e.hash,
            )
            for e in events
        ]
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(
                f"INSERT INTO events ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
            )
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._head_seq, self._head_hash = events[-1].seq, events[-1].hash
