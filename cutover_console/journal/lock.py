"""The single-writer lock: one process writes a journal; everyone else reads.

An exclusive `flock` on `<journal>.writer.lock`, held for the writer's lifetime. The kernel drops it
when the process dies (even by `kill -9`), so a crash never leaves a stale lock. The file says who
holds it (pid, host, user, since) so a refused second writer can say whom to ask; a holder record
left behind by a process that did not close cleanly tells the next writer to journal a recovery.

Beside it, `<journal>.head` holds the last head the writer committed (seq:hash). It lives outside
SQLite on purpose: if a damaged write-ahead log makes SQLite drop committed events, the journal
ends up *behind* this record and the readers can say so instead of verifying a shorter journal.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import re
import socket
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .chain import Checkpoint


class JournalLocked(Exception):
    """Another process is the journal's writer."""

    def __init__(self, path: Path, holder: dict[str, Any]) -> None:
        self.holder = holder
        who = (
            f"pid {holder.get('pid', '?')} ({holder.get('user', '?')}@{holder.get('host', '?')}, "
            f"`{holder.get('command', '?')}`) since {holder.get('since', '?')}"
            if holder
            else "another process"
        )
        super().__init__(
            f"{path} is being written by {who}. Only one writer per journal: record actions in "
            "that process, or stop it first. Read-only views (status, watch, verify) still work."
        )


def lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".writer.lock")


@dataclass
class WriterLock:
    """An acquired writer lock. `previous` is the record of a writer that did not close cleanly."""

    path: Path
    fd: int
    previous: dict[str, Any] | None

    @classmethod
    def acquire(cls, journal: Path, command: str = "cutover") -> WriterLock:
        path = lock_path(journal)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_record(fd)
            os.close(fd)
            raise JournalLocked(journal, holder) from None
        previous = _read_record(fd) or None
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "user": _os_user(),
            "command": command,
            "since": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        data = json.dumps(record).encode()
        try:
            # overwrite, then trim: if the disk is full, a crashed writer's record stays intact
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        except OSError:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
            raise
        return cls(path, fd, previous)

    def release(self) -> None:
        """Clean release: empty the record (so the next writer sees no crash), then unlock."""
        if self.fd < 0:
            return
        fd, self.fd = self.fd, -1
        try:
            os.ftruncate(fd, 0)
            os.fsync(fd)
        finally:  # the lock goes with the descriptor, whatever the disk says
            os.close(fd)


def read_holder(journal: Path) -> dict[str, Any] | None:
    """Who holds the writer lock right now, or None when nobody does."""
    path = lock_path(journal)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_record(fd) or {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_record(fd: int) -> dict[str, Any]:
    raw = os.pread(fd, 4096, 0)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"raw": raw[:200].decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {}


def _os_user() -> str:
    """The account this process runs as, from its real uid: never $USER or $LOGNAME, which any
    process sets as it likes (the journal service names its peers by SO_PEERCRED the same way)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid with no account (a container): the number is the truth
        return str(os.getuid())


# -- the recorded head -------------------------------------------------------------------------
# Two fixed-size slots, written alternately in place: a torn write (crash, full disk) spoils at
# most the slot being written, and the other still holds the previous head. Each slot carries a
# CRC, so a reader takes the newest intact one. In-place writes to an allocated file also need no
# new disk blocks, so recording the head never fails on a full disk.
_SLOT = 256
_SLOT_RE = re.compile(
    rb"cutover-head v1 (\d+):([0-9a-f]{64}) first=([0-9a-f]{64}) crc=([0-9a-f]{8})"
)


def head_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".head")


def _slot(head: Checkpoint, first: str) -> bytes:
    text = f"cutover-head v1 {head.seq}:{head.hash} first={first}".encode()
    line = text + b" crc=%08x" % zlib.crc32(text)
    return line.ljust(_SLOT - 1) + b"\n"


def _parse_slots(raw: bytes) -> list[tuple[Checkpoint, str] | None]:
    from .chain import Checkpoint  # here: a refused second writer's CLI never needs the chain

    """Each slot's (head, hash of event 1), or None for a slot that is empty or torn."""
    found: list[tuple[Checkpoint, str] | None] = []
    for offset in (0, _SLOT):
        m = _SLOT_RE.match(raw[offset : offset + _SLOT])
        text = m.group(0).rsplit(b" crc=", 1)[0] if m else b""
        if m is None or int(m.group(4), 16) != zlib.crc32(text):
            found.append(None)
        else:
            found.append((Checkpoint(int(m.group(1)), m.group(2).decode()), m.group(3).decode()))
    return found


def _newest(slots: list[tuple[Checkpoint, str] | None]) -> int | None:
    """Index of the slot with the highest intact head."""
    intact = [i for i, s in enumerate(slots) if s is not None]
    return max(intact, key=lambda i: slots[i][0].seq) if intact else None  # type: ignore[index]


def read_head_record(journal: Path) -> tuple[Checkpoint, str] | None:
    """(last head the writer recorded, hash of event 1), or None when there is no intact record."""
    try:
        with open(head_path(journal), "rb") as f:
            slots = _parse_slots(f.read(2 * _SLOT))
    except OSError:
        return None
    newest = _newest(slots)
    return None if newest is None else slots[newest]


class HeadFile:
    """The writer's side of `<journal>.head`, opened (and its space allocated) before the first
    commit. `recorded` is what the file held when opened."""

    def __init__(self, journal: Path) -> None:
        self.fd = os.open(head_path(journal), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            raw = os.pread(self.fd, 2 * _SLOT, 0)
            if len(raw) < 2 * _SLOT:  # allocate both slots now, while we may still fail cleanly
                os.pwrite(self.fd, raw.ljust(2 * _SLOT, b" "), 0)
                os.fsync(self.fd)
        except OSError:
            os.close(self.fd)
            raise
        slots = _parse_slots(raw)
        newest = _newest(slots)
        self.recorded = None if newest is None else slots[newest]
        self._next = 1 if newest == 0 else 0  # never overwrite the newest intact record first

    def record(self, head: Checkpoint, first: str, *, sync: bool) -> None:
        os.pwrite(self.fd, _slot(head, first), self._next * _SLOT)
        if sync:
            os.fdatasync(self.fd)
        self._next ^= 1

    def reset(self, head: Checkpoint, first: str) -> None:
        """Both slots to `head` (replacing a record that belongs to another journal)."""
        os.pwrite(self.fd, _slot(head, first) * 2, 0)
        os.fsync(self.fd)
        self.recorded, self._next = (head, first), 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
