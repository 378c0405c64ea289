"""The single-writer lock: one process writes a journal; everyone else reads.

An exclusive `flock` on `<journal>.writer.lock`, held for the writer's lifetime. The kernel drops it
when the process dies (even by `kill -9`), so a crash never leaves a stale lock. The file says who
holds it (pid, host, user, since) so a refused second writer can say whom to ask; a holder record
left behind by a process that did not close cleanly tells the next writer to journal a recovery.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


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
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        return cls(path, fd, previous)

    def release(self) -> None:
        """Clean release: empty the record (so the next writer sees no crash), then unlock."""
        if self.fd < 0:
            return
        os.ftruncate(self.fd, 0)
        os.fsync(self.fd)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = -1


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
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
