"""The audit journal on disk: SQLite (WAL, synchronous=FULL), append-only, hash-chained.

One writer per journal (see `lock.py`); any number of readers in other processes open it with
`mode=ro` and `query_only`, so a reader has no write path at all.

Every failure of the file, the disk or SQLite surfaces as a `JournalError` that says what is wrong
with which journal (or which event), never as a traceback: a damaged row is refused when read.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from ..clock import Clock, SystemClock, format_ts, parse_ts
from ..secrets import REDACT, redacted
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
from .errors import IdempotencyConflict, JournalError
from .lock import HeadFile, WriterLock, _os_user, head_path, read_head_record

APPLICATION_ID = 0x43555431  # "CUT1": lets us tell a journal from any other SQLite file
SCHEMA_VERSION = 1
_COLUMNS = "seq, ts, actor, os_user, kind, step, payload, v, idem, prev, hash"
_COLUMN_NAMES = tuple(_COLUMNS.split(", "))
# Outside a decision or a batch, the writer checkpoints at most this often: a burst of notes pays
# for one checkpoint, a note typed by a person (seconds apart) still gets its own.
CHECKPOINT_EVERY = 0.5  # seconds


@dataclass(slots=True)
class Replayed(Event):
    """An event given back to a retry: recorded earlier under the same idempotency key."""

    @classmethod
    def of(cls, event: Event) -> Replayed:
        return cls(*(getattr(event, f) for f in Event.__dataclass_fields__))


# SQLite's primary result codes we explain (the extended code's low byte)
_CORRUPT, _FULL, _NOTADB, _IOERR = 11, 13, 26, 10
_BUSY, _LOCKED, _READONLY, _CANTOPEN = 5, 6, 8, 14


def disk_full_message(path: Path, *, writing: bool = True) -> str:
    what = "nothing was recorded" if writing else "the journal cannot be read"
    return f"the disk holding {path} is full: {what}; free space and retry"


def _disk_is_full(path: Path) -> bool:
    """For SQLite's vaguer I/O errors: is the journal's file system (nearly) out of space?"""
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    free = st.f_bfree if os.geteuid() == 0 else st.f_bavail
    return free * st.f_frsize < 64 * 1024


def _failure(path: Path, exc: BaseException, *, writing: bool) -> JournalError:
    """The sentence for an OS or SQLite error met while using the journal at `path`."""
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return JournalError(disk_full_message(path, writing=writing))
        where = exc.filename or path
        return JournalError(f"{where}: {exc.strerror or exc}")
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(exc)
    if code == _FULL or (code == _IOERR and _disk_is_full(path)):
        return JournalError(disk_full_message(path, writing=writing))
    if code == _NOTADB:
        return JournalError(f"{path}: not a Cutover Console journal (SQLite: {text})")
    if code == _CORRUPT:
        return JournalError(
            f"{path}: the journal file is damaged (SQLite: {text}); restore it from a copy"
        )
    if code in (_BUSY, _LOCKED):
        return JournalError(f"{path}: another process kept the journal locked ({text}); retry")
    if code in (_READONLY, _CANTOPEN):
        return JournalError(f"{path}: cannot {'write' if writing else 'open'} the journal ({text})")
    if "no such table" in text or "no such column" in text:
        return JournalError(f"{path}: not a usable journal: its tables are not a journal's: {text}")
    return JournalError(f"{path}: SQLite failed: {text}")


@contextmanager
def _guarded(path: Path, *, writing: bool = False) -> Iterator[None]:
    """Turn OS and SQLite errors into a JournalError naming the journal (our own misuse of the
    sqlite3 API stays a bug with its traceback)."""
    try:
        yield
    except (sqlite3.InterfaceError, sqlite3.ProgrammingError):
        raise
    except (sqlite3.Error, OSError) as exc:
        raise _failure(path, exc, writing=writing) from exc


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: a person of the plan (or `system`/`engine:*`) and the OS account."""

    person: str
    os_user: str

    @classmethod
    def here(cls, person: str) -> Actor:
        return cls(person, _os_user())


def _connect(path: Path, *, readonly: bool, busy_ms: int = 5000) -> sqlite3.Connection:
    """A connection that has not written anything yet: a writer switches to WAL only after the
    file proved to be a journal (on any other file, that switch would already change it)."""
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA query_only = ON")
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
    return conn


def _durable(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")


_HEX64 = re.compile(r"[0-9a-f]{64}")

fromisoformat = datetime.fromisoformat  # what `parse_ts` does, without the call in between


def _valid_ts(ts: str) -> bool:
    """Parsed as the fold parses it (so that `events` refuses what `status` would)."""
    try:
        parse_ts(ts)
    except ValueError:
        return False
    return True


def _field_problem(row: tuple[Any, ...]) -> str | None:
    """The first thing wrong with a row's own fields (the slow path, for the message)."""
    _seq, ts, actor, os_user, kind, step, _payload, v, idem, prev, digest = row
    checks: list[tuple[str, Any, bool]] = [
        ("kind", kind, isinstance(kind, str)),
        ("timestamp", ts, isinstance(ts, str) and _valid_ts(ts)),
        ("actor", actor, isinstance(actor, str)),
        ("OS user", os_user, isinstance(os_user, str)),
        ("step", step, step is None or isinstance(step, str)),
        ("payload version", v, type(v) is int),
        ("idempotency key", idem, idem is None or isinstance(idem, str)),
        ("hash", digest, isinstance(digest, str) and bool(_HEX64.fullmatch(digest))),
        ("previous hash", prev, isinstance(prev, str) and bool(_HEX64.fullmatch(prev))),
    ]
    for name, value, ok in checks:
        if not ok:
            return f"its {name} is {'missing' if value is None else 'not valid'}"
    return None


def _payload(payload_text: Any) -> tuple[Any, str | None]:
    if payload_text is None:
        return None, "its payload is missing"
    if not isinstance(payload_text, str):
        return None, "its payload is not text"
    try:
        payload = json.loads(payload_text)
    except (ValueError, RecursionError):
        return None, "its payload is not JSON"
    if not isinstance(payload, dict):
        return None, "its payload is not a JSON object"
    return payload, None


def _row_event(row: tuple[Any, ...], path: Path) -> Event:
    """An event from a stored row, checked as far as the fold and the views rely on it (replay
    runs this per event: the checks are cheap, the slow path only names what is wrong)."""
    seq, ts, actor, os_user, kind, step, payload_text, v, idem, prev, digest = row
    try:
        fromisoformat(ts)
        payload = json.loads(payload_text)
    except (TypeError, ValueError, RecursionError):
        payload = None
    if not (
        type(payload) is dict
        and type(v) is int
        and type(kind) is str
        and type(actor) is str
        and type(os_user) is str
        and (step is None or type(step) is str)
        and (idem is None or type(idem) is str)
        and type(prev) is str
        and type(digest) is str
        and len(digest) == 64
        and digest.isalnum()  # hex in practice; `verify` checks the hash itself
    ):
        fields = _field_problem(row)
        raise _damaged(path, seq, kind, fields or _payload(payload_text)[1] or "it cannot be read")
    if ev.needs_upgrade(kind, v):
        v, payload = ev.upgrade(kind, v, payload)
    if kind == ev.JOURNAL_CREATED:  # nothing folds without it; any other payload that does
        problem = ev.payload_problem(kind, payload)  # not fit is named by the fold (payloads)
        if problem is not None:
            raise _damaged(path, seq, kind, problem)
    return Event(seq, ts, actor, os_user, kind, step, payload, v, idem, prev, digest)


def _damaged(path: Path, seq: Any, kind: Any, problem: str) -> JournalError:
    what = f" ({kind})" if isinstance(kind, str) else ""
    return JournalError(
        f"{path}: event {seq}{what} is damaged: {problem}; "
        f"run `cutover verify {path}` and restore the journal from a copy"
    )


class JournalReader:
    """Read-only access. Safe while a writer appends in another process."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise JournalError(
                f"{self.path}: no such journal (create one with `cutover init PLAN`)"
            )
        if self.path.is_dir():
            raise JournalError(f"{self.path}: a folder, not a journal file")
        with self._guard():
            self.conn = self._open(busy_timeout_ms)
        try:
            self._check_identity()
        except BaseException:
            self.conn.close()
            raise

    def _open(self, busy_ms: int) -> sqlite3.Connection:
        return _connect(self.path, readonly=True, busy_ms=busy_ms)

    _writing = False  # a writer's failures all end in "nothing was recorded"

    def _guard(self) -> contextlib.AbstractContextManager[None]:
        return _guarded(self.path, writing=self._writing)

    def _check_identity(self) -> None:
        """Our application_id, and an events table with the journal's columns."""
        with self._guard():
            app_id = self.conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise JournalError(f"{self.path}: not a Cutover Console journal")
        with self._guard():
            columns = {r[1] for r in self.conn.execute("PRAGMA table_info(events)")}
        if not columns:
            raise JournalError(
                f"{self.path}: marked as a Cutover Console journal but it has no events table: "
                "the file is damaged or not a journal; restore it from a copy"
            )
        missing = [c for c in _COLUMN_NAMES if c not in columns]
        if missing:
            raise JournalError(
                f"{self.path}: marked as a Cutover Console journal but its events table is not "
                f"a journal's (no column {', '.join(missing)}); restore it from a copy"
            )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def events(self, after: int = 0, until_ts: str | None = None) -> Iterator[Event]:
        """Events with seq > `after` (and ts <= `until_ts`), payloads upgraded on read. A row the
        fold could not use raises a JournalError naming its event."""
        sql = f"SELECT {_COLUMNS} FROM events WHERE seq > ?"
        params: list[Any] = [after]
        if until_ts is not None:
            sql += " AND ts <= ?"
            params.append(until_ts)
        path = self.path
        with self._guard():
            cursor = self.conn.execute(sql + " ORDER BY seq", params)
            first = after == 0
            while batch := cursor.fetchmany(2048):
                if first:
                    self._check_start(batch[0])
                    first = False
                for row in batch:
                    yield _row_event(row, path)
            if first and until_ts is None:
                raise JournalError(f"{path}: the journal holds no events; restore it from a copy")

    def events_of(self, kinds: tuple[str, ...]) -> Iterator[Event]:
        """Only the events of these kinds, in order: one pass that parses no other payload
        (`cutover verify` reads the plans and the sign-offs this way)."""
        marks = ", ".join("?" for _ in kinds)
        with self._guard():
            cursor = self.conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE kind IN ({marks}) ORDER BY seq", kinds
            )
            while batch := cursor.fetchmany(2048):
                for row in batch:
                    yield _row_event(row, self.path)

    def _check_start(self, row: tuple[Any, ...]) -> None:
        if row[0] != 1:
            raise JournalError(
                f"{self.path}: event 1 is missing (the first stored event is {row[0]}); "
                f"run `cutover verify {self.path}`"
            )
        if row[4] != ev.JOURNAL_CREATED:
            raise _damaged(self.path, 1, row[4], "the journal must start with journal.created")

    def by_idem(self, idem: str) -> Event | None:
        """The event recorded under an idempotency key, if any."""
        with self._guard():
            row = self.conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE idem = ?", (idem,)
            ).fetchone()
        return None if row is None else _row_event(row, self.path)

    def log_lines(self, after: int = 0, limit: int = 1000) -> list[tuple[Any, ...]]:
        """(id, at, source, side, level, text) rows with id > `after` (empty for old journals)."""
        with self._guard():
            try:
                return self.conn.execute(
                    "SELECT id, at, source, side, level, text FROM log_lines WHERE id > ? "
                    "ORDER BY id LIMIT ?",
                    (after, limit),
                ).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):  # journals older than log lines
                    return []
                raise

    def head(self) -> Checkpoint | None:
        with self._guard():
            row = self.conn.execute(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return Checkpoint(row[0], row[1]) if row else None

    def count(self) -> int:
        with self._guard():
            return int(self.conn.execute("SELECT count(*) FROM events").fetchone()[0])

    def plan_payload(self) -> dict[str, Any]:
        """The plan in force: the latest `journal.created` or `plan.revised` payload's plan."""
        with self._guard():
            row = self.conn.execute(
                f"SELECT {_COLUMNS} FROM events WHERE kind IN (?, ?) ORDER BY seq DESC LIMIT 1",
                (ev.JOURNAL_CREATED, ev.PLAN_REVISED),
            ).fetchone()
        if row is None:
            raise JournalError(f"{self.path}: the journal holds no plan")
        plan: dict[str, Any] = _row_event(row, self.path).payload["plan"]
        return plan

    def _rows(self) -> Iterator[StoredRow]:
        cursor = self.conn.execute(f"SELECT {_COLUMNS} FROM events ORDER BY rowid")
        while batch := cursor.fetchmany(4096):
            for r in batch:
                yield StoredRow(*r)

    def raw_rows(self) -> Iterator[StoredRow]:
        """Rows exactly as stored, in storage order, for verification."""
        with self._guard():
            yield from self._rows()

    def verify(
        self, expect: Checkpoint | None = None, *, against_recorded_head: bool = False
    ) -> ChainReport:
        """SQLite's integrity_check, then the whole hash chain (and the checkpoint, if given).
        A file too damaged for SQLite to read is a failed verification, not an error.

        `against_recorded_head`: an intact chain must also reach the head the writer recorded
        in `<journal>.head` (else `behind`: committed events were lost, e.g. with the WAL)."""
        try:
            problems = [r[0] for r in self.conn.execute("PRAGMA integrity_check").fetchall()]
            if problems != ["ok"]:
                report = ChainReport(problem=f"corrupt: SQLite integrity_check: {problems[0]}")
                report.details = problems
                return report
            report = verify_rows(self._rows(), expect)
            if report.ok and against_recorded_head:
                behind = self.recorded_head_problem()
                if behind is not None:
                    report.problem = f"behind: {behind}"
                    report.bad_seq = (report.head.seq if report.head else 0) + 1
            return report
        except (sqlite3.InterfaceError, sqlite3.ProgrammingError):
            raise
        except sqlite3.DatabaseError as exc:
            if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in (_CORRUPT, _NOTADB):
                return ChainReport(problem=f"corrupt: SQLite: {exc}")
            raise _failure(self.path, exc, writing=False) from exc

    def recorded_head_problem(self) -> str | None:
        """See `behind_recorded_head`."""
        record = read_head_record(self.path)  # before the journal: the writer commits first
        if record is None:
            return None
        recorded, first = record
        with self._guard():
            row1 = self.conn.execute("SELECT hash FROM events WHERE seq = 1").fetchone()
            if row1 is not None and row1[0] != first:
                return None  # the record belongs to another journal that lived at this path
            last = self.head()
            at = self.conn.execute(
                "SELECT hash FROM events WHERE seq = ?", (recorded.seq,)
            ).fetchone()
        ends = last.seq if last else 0
        name = head_path(self.path).name
        if ends < recorded.seq:
            return (
                f"{self.path}: the journal is behind its recorded head: it ends at event {ends}, "
                f"but its writer recorded {recorded.seq}:{recorded.hash[:16]}… in {name}, so "
                f"{recorded.seq - ends} committed event(s) are missing (a damaged or lost "
                f"write-ahead log?); check a copy with `cutover verify --expect-head {recorded}`"
            )
        if at is None or at[0] != recorded.hash:
            return (
                f"{self.path}: event {recorded.seq} differs from the head its writer recorded in "
                f"{name} ({recorded.seq}:{recorded.hash[:16]}…): history was rewritten"
            )
        return None


def recorded_head(path: str | Path) -> Checkpoint | None:
    """The last head the journal's writer recorded beside it (`<journal>.head`), or None."""
    record = read_head_record(Path(path))
    return record[0] if record else None


def behind_recorded_head(journal: str | Path | JournalReader) -> str | None:
    """A sentence when the journal is behind (or differs from) the head its writer recorded in
    `<journal>.head` after each commit — committed events were lost, e.g. to a damaged WAL; None
    when it is in line, or when there is no record (an older journal, a copy)."""
    if isinstance(journal, JournalReader):
        return journal.recorded_head_problem()
    with JournalReader(journal) as reader:
        return reader.recorded_head_problem()


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
    note is what becomes evidence). Only where there is none: a new journal's schema, or an
    older journal opened to write (`_has_table`, which needs no sqlite_utils)."""
    db.table("log_lines").create(
        {"id": int, "at": str, "source": str, "side": str, "level": str, "text": str},
        pk="id",
    )


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return found.fetchone() is not None


def _remove_unborn(path: Path) -> None:
    """A journal that `create` could not finish holds no event yet: left behind, it would block
    the retry ("already exists")."""
    for leftover in (
        path,
        head_path(path),
        *(path.with_name(path.name + x) for x in ("-wal", "-shm")),
    ):
        with contextlib.suppress(OSError):
            leftover.unlink()


class JournalWriter(JournalReader):
    """The one process allowed to append. Use `create` or `open`; close to release the lock."""

    _writing = True

    def __init__(self, path: Path, lock: WriterLock, clock: Clock) -> None:
        self._lock = lock
        self.clock = clock
        self._heads: HeadFile | None = None
        self._checkpointed_at = float("-inf")
        self.last_appended: list[Event] = []  # what the last `append` committed (with `then`)
        try:
            super().__init__(path)
            with _guarded(self.path, writing=True):
                _durable(self.conn)
                head = self.head()
                row1 = self.conn.execute("SELECT hash FROM events WHERE seq = 1").fetchone()
                self._heads = HeadFile(self.path)
        except BaseException:
            if hasattr(self, "conn"):
                self.conn.close()
            lock.release()
            raise
        self._head_seq, self._head_hash = (head.seq, head.hash) if head else (0, GENESIS)
        self._first: str | None = row1[0] if row1 else None
        recorded = self._heads.recorded
        if head is not None and self._first and recorded and recorded[1] != self._first:
            # another journal's record (a copy over this path): it says nothing about this one
            with _guarded(self.path, writing=True):
                self._heads.reset(head, self._first)

    def _open(self, busy_ms: int) -> sqlite3.Connection:
        return _connect(self.path, readonly=False, busy_ms=busy_ms)

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
        plan_keys: dict[str, list[str]] | None = None,
    ) -> JournalWriter:
        """Create a journal for a plan. Refuses to touch an existing file. `plan_keys`: the
        people's SSH keys as resolved from the plan's `file:` references, kept with its text."""
        path = Path(path)
        if path.exists():
            raise JournalError(
                f"{path} already exists: open it (status, step, run) or choose another --journal"
            )
        writer = cls._born(path, "cutover init", clock, lambda _conn: None)
        payload: dict[str, Any] = {
            "cutover": cutover_id,
            "plan": {"text": plan_text, "sha256": plan_sha256, "file": Path(plan_file).name},
            "mode": mode,  # live | rehearsal | tabletop (simulated clock)
            "rehearsal": mode != "live",
            "tool": f"cutover-console {__version__}",
        }
        if plan_keys:
            payload["plan"]["keys"] = plan_keys
        speed = getattr(clock, "speed", None)
        if clock is not None and speed is not None and speed != 1:
            # a sped-up world (cutover demo): watchers rebuild its clock from this pair
            payload["clock"] = {
                "speed": speed,
                "world_at": format_ts(clock.now()),
                "real_at": format_ts(datetime.now(UTC)),
            }
        try:
            writer.append(ev.JOURNAL_CREATED, payload, actor=actor)
        except BaseException:
            writer.close()
            _remove_unborn(path)
            raise
        return writer

    @classmethod
    def restore(
        cls, path: str | Path, rows: list[StoredRow], *, clock: Clock | None = None
    ) -> JournalWriter:
        """Create a journal holding exactly `rows` (a chain the caller verified, e.g. rebuilt
        from an archive) in one transaction, and open it for writing. Never overwrites."""
        path = Path(path)
        if path.exists():
            raise JournalError(f"{path} already exists: choose another --journal")

        def fill(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                f"INSERT INTO events ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        *(r.seq, r.ts, r.actor, r.os_user, r.kind, r.step, r.payload_text),
                        *(r.v, r.idem, r.prev, r.hash),
                    )
                    for r in rows
                ],
            )
            conn.execute("COMMIT")

        return cls._born(path, "cutover restore", clock, fill)

    @classmethod
    def _born(
        cls,
        path: Path,
        command: str,
        clock: Clock | None,
        fill: Callable[[sqlite3.Connection], None],
    ) -> JournalWriter:
        """A new journal file at `path` (which does not exist yet): the writer's lock, the
        schema, `fill`'s rows, then the writer. On any failure no half-born file is left."""
        with _guarded(path, writing=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = WriterLock.acquire(path, command)
        try:
            with _guarded(path, writing=True):
                conn = _connect(path, readonly=False)
                _durable(conn)
                import sqlite_utils  # writers only: a reader (a watcher) stays small

                _create_schema(sqlite_utils.Database(conn))
                fill(conn)
                conn.close()
                with contextlib.suppress(FileNotFoundError):  # a former journal's record
                    head_path(path).unlink()
        except BaseException:
            lock.release()
            _remove_unborn(path)
            raise
        try:
            return cls(path, lock, clock or SystemClock())
        except BaseException:
            _remove_unborn(path)
            raise

    @classmethod
    def open(
        cls, path: str | Path, *, clock: Clock | None = None, command: str = "cutover"
    ) -> JournalWriter:
        """Open an existing journal for writing; journal a recovery if the last writer crashed."""
        path = Path(path)
        if not path.exists():
            raise JournalError(f"{path}: no such journal (create one with `cutover init PLAN`)")
        with _guarded(path, writing=True):
            lock = WriterLock.acquire(path, command)
        writer = cls(path, lock, clock or SystemClock())
        try:
            writer._check_head()
            writer._check_recorded_head()
            with _guarded(path, writing=True):  # journals older than log lines
                if not _has_table(writer.conn, "log_lines"):  # (sqlite_utils: 50 ms to import)
                    import sqlite_utils

                    _create_log_table(sqlite_utils.Database(writer.conn))
        except BaseException:
            writer.close()
            raise
        if lock.previous:
            writer.append(
                ev.JOURNAL_RECOVERED,
                {"previous_writer": lock.previous, "resumed_at_seq": writer._head_seq},
                actor=Actor.here("system"),
            )
        return writer

    def _check_recorded_head(self) -> None:
        """Refuse to extend a journal that lost events it had committed: new events would reuse
        their numbers with other hashes."""
        problem = self.recorded_head_problem()
        if problem is not None:
            raise JournalError(
                f"{problem}. Not writing to it: restore the journal from a copy, or remove "
                f"{head_path(self.path).name} to accept the loss and go on"
            )

    def _check_head(self) -> None:
        """Refuse to extend a chain whose last link is already broken."""
        with self._guard():
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
            # SQLite checkpoints on close only as the last connection; a watcher may be another
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            super().close()
        finally:
            if self._heads is not None:
                self._heads.close()
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
            payload = _redacted(kind, payload)
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
        self._commit(events, checkpoint=True)
        return events

    def append(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        actor: Actor,
        step: str | None = None,
        idem: str | None = None,
        then: list[tuple[str, dict[str, Any], Actor, str | None]] | None = None,
    ) -> Event:
        """Durably append one event (one fsync'd transaction). A repeated `idem` returns the
        event recorded the first time, if it is this same event; a key that holds another event
        raises IdempotencyConflict. `then`: events that follow it in the same transaction (the
        outbox: an update queued with the decision that causes it); read them with
        `last_appended`."""
        payload = _redacted(kind, payload)
        if idem is not None:
            existing = self.by_idem(idem)
            if existing is not None:
                same = (existing.kind, existing.step, existing.actor) == (kind, step, actor.person)
                if same and canonical_json(existing.payload) == canonical_json(payload):
                    return Replayed.of(existing)
                raise IdempotencyConflict(
                    f"the idempotency key '{idem}' already holds event {existing.seq} "
                    f"({existing.kind} by {existing.actor}); nothing recorded: use a new key",
                    existing,
                )
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
        chained, prev = [event], event.hash
        for kind_, payload_, actor_, step_ in then or ():
            follower = Event(
                event.seq + len(chained),
                event.ts,
                actor_.person,
                actor_.os_user,
                kind_,
                step_,
                _redacted(kind_, payload_),
                ev.version_for(kind_),
                None,
                prev,
                "",
            )
            follower.hash = prev = body_hash(follower.body())
            chained.append(follower)
        self._commit(chained)
        self.last_appended = chained
        return event

    def append_log_lines(self, lines: list[tuple[str, str, str, str, str]]) -> None:
        """(at, source, side, level, text) rows; the oldest beyond LOG_KEEP are dropped."""
        if not lines:
            return
        lines = [(at, source, side, level, REDACT(text)) for at, source, side, level, text in lines]
        with _guarded(self.path, writing=True), self._transaction():
            self.conn.executemany(
                "INSERT INTO log_lines (at, source, side, level, text) VALUES (?,?,?,?,?)", lines
            )
            self.conn.execute(
                "DELETE FROM log_lines WHERE id <= (SELECT MAX(id) FROM log_lines) - ?", (LOG_KEEP,)
            )

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            # On a full disk SQLite has rolled back already: a second ROLLBACK would fail with
            # "no transaction is active" and hide why.
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise

    def _commit(self, events: list[Event], *, checkpoint: bool = False) -> None:
        """Insert events (already chained) in one transaction; the head moves only on success.
        `checkpoint`: a batch, always checkpointed like a decision."""
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
        with _guarded(self.path, writing=True), self._transaction():
            self.conn.executemany(
                f"INSERT INTO events ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows
            )
        self._head_seq, self._head_hash = events[-1].seq, events[-1].hash
        if self._first is None:
            self._first = events[0].hash if events[0].seq == 1 else None
        self._after_commit(checkpoint or any(e.kind in ev.DECISIONS for e in events))

    def _after_commit(self, decision: bool) -> None:
        """Narrow what a damaged WAL could take, and leave a record that shows it if it does. The
        events are durable already: nothing here may fail the append.

        A PASSIVE checkpoint copies the WAL into the main file (never waiting for readers). Then
        the head goes to `<journal>.head`, fsynced only when the events are not all in the main
        file yet: once they are, a lost head record could only look older, never ahead."""
        in_main_file = False
        now = time.monotonic()
        if decision or now - self._checkpointed_at >= CHECKPOINT_EVERY:
            self._checkpointed_at = now
            with contextlib.suppress(sqlite3.Error):
                busy, wal, done = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                in_main_file = busy == 0 and wal == done
        if self._heads is not None and self._first is not None:
            with contextlib.suppress(OSError):  # lagging is safe: it is never read as a loss
                self._heads.record(
                    Checkpoint(self._head_seq, self._head_hash), self._first, sync=not in_main_file
                )


def _redacted(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What is journaled never holds a secret: every string of a payload is redacted, except
    the plan's own text (which the loader already refuses to hold a secret, and whose hash
    must stay the plan file's)."""
    if kind in (ev.JOURNAL_CREATED, ev.PLAN_REVISED):
        return payload
    return dict(redacted(payload))
