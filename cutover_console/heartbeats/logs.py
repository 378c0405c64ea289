"""Live logs of both sides: local files and remote files over SSH, with `tail -F` semantics
(a rotated or truncated file is followed to its successor), a source label, a parsed level and a
filter. Lines are kept in a bounded table beside the journal, outside the hash chain."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..plan.model import LogSource
from ..secrets import REDACT, resolve

MAX_LINE = 1 << 20
"""Characters kept of one log line (1 MiB): a longer one is cut, with a mark saying so."""
READ_BUDGET = 8 << 20
"""Characters read from one file per poll, so a burst of gigabytes never stalls the engine."""

LEVEL = re.compile(r"\b(CRITICAL|FATAL|ERROR|ERR|WARNING|WARN|INFO|DEBUG|TRACE)\b", re.I)
_LEVELS = {"CRITICAL": "ERROR", "FATAL": "ERROR", "ERR": "ERROR", "WARNING": "WARN"}


@dataclass(frozen=True, slots=True)
class LogLine:
    at: datetime
    source: str
    side: str
    level: str  # ERROR, WARN, INFO, DEBUG, TRACE or "" when none could be parsed
    text: str


def parse_level(text: str) -> str:
    match = LEVEL.search(text)
    if not match:
        return ""
    word = match.group(1).upper()
    return _LEVELS.get(word, word)


class LineAssembler:
    """Text arriving in chunks → complete lines, each cut at `limit` characters with a mark
    (the rest of an overlong line is counted, never held in memory)."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self._parts: list[str] = []
        self._size = 0
        self._dropped = 0

    def feed(self, chunk: str) -> list[str]:
        *complete, rest = chunk.split("\n")
        lines = []
        for piece in complete:
            self._add(piece)
            lines.append(self._finish())
        self._add(rest)
        return lines

    def _add(self, piece: str) -> None:
        room = self.limit - self._size
        if room > 0:
            kept = piece[:room]
            self._parts.append(kept)
            self._size += len(kept)
        self._dropped += len(piece) - min(len(piece), max(room, 0))

    def _finish(self) -> str:
        line = "".join(self._parts).rstrip("\r")
        if self._dropped:
            line += f"… [cut: {self._dropped:,} more characters]"
        self._parts, self._size, self._dropped = [], 0, 0
        return line


class LocalTail:
    """Follow a file, or the newest file matching `pattern` in a folder, like `tail -F`."""

    def __init__(self, path: Path, pattern: str | None = None) -> None:
        self.path = path
        self.pattern = pattern
        self._file: Any = None
        self._inode: int | None = None
        self._lines = LineAssembler()

    def _target(self) -> Path | None:
        if self.path.is_dir():
            files = sorted(self.path.glob(self.pattern or "*"), key=lambda p: p.stat().st_mtime)
            return files[-1] if files else None
        return self.path if self.path.exists() else None

    def read_new(self) -> list[str]:
        """Lines appended since the last call (a rotated file is finished, then its successor)."""
        lines: list[str] = []
        target = self._target()
        if target is None:
            return lines
        stat = target.stat()
        if self._file is not None and (
            stat.st_ino != self._inode or target.name != Path(self._file.name).name
        ):
            lines += self._drain()  # the old file's last lines, then switch
            self._file.close()
            self._file = None
        if self._file is None:
            first_open = self._inode is None
            self._file = open(target, encoding="utf-8", errors="replace")  # noqa: SIM115
            self._inode = stat.st_ino
            if first_open:
                self._file.seek(0, os.SEEK_END)  # like tail -n 0: only what comes next
        elif stat.st_size < self._file.tell():  # truncated in place (copytruncate)
            self._file.seek(0)
        return lines + self._drain()

    def _drain(self) -> list[str]:
        lines: list[str] = []
        budget = READ_BUDGET
        while budget > 0:
            chunk = self._file.read(min(budget, 1 << 20))
            if not chunk:
                break
            budget -= len(chunk)
            lines += self._lines.feed(chunk)
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class LogFollower:
    """All log sources of a plan, into one bounded, filterable buffer."""

    def __init__(
        self,
        sources: list[LogSource],
        clock: Clock,
        *,
        keep: int = 5000,
        poll: float = 0.5,
        base: Path | None = None,
    ) -> None:
        self.sources = sources
        self.base = base  # where relative paths are found
        self.clock = clock
        self.lines: deque[LogLine] = deque(maxlen=keep)
        self.errors: dict[str, str] = {}
        self.poll = poll
        self.listeners: list[Callable[[list[LogLine]], None]] = []

    def _emit(self, source: LogSource, texts: list[str]) -> None:
        now = self.clock.now()
        batch = [
            LogLine(now, source.id, source.side, parse_level(t), REDACT(t))
            for t in texts
            if t.strip()
        ]
        self.lines.extend(batch)
        for listener in self.listeners:
            listener(batch)

    def filtered(
        self, *, source: str | None = None, level: str | None = None, text: str | None = None
    ) -> list[LogLine]:
        order = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
        minimum = order.index(level) if level in order else None
        return [
            line
            for line in self.lines
            if (source is None or line.source == source)
            and (minimum is None or (line.level in order and order.index(line.level) >= minimum))
            and (text is None or text.lower() in line.text.lower())
        ]

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(self._follow(s, stop)) for s in self.sources]
        await stop.wait()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self, source: LogSource, stop: asyncio.Event) -> None:
        extra = source.model_extra or {}
        if source.path.startswith("ssh://"):
            await self._follow_ssh(source, extra, stop)
            return
        path = Path(source.path)
        if not path.is_absolute() and self.base is not None:
            path = self.base / path
        tail = LocalTail(path, extra.get("pattern"))
        try:
            while not stop.is_set():
                try:
                    texts = tail.read_new()
                    self.errors.pop(source.id, None)
                except OSError as exc:
                    texts = []
                    self.errors[source.id] = f"{exc.strerror}: {exc.filename}"
                if texts:
                    self._emit(source, texts)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll)
        finally:
            tail.close()

    async def _follow_ssh(
        self, source: LogSource, extra: dict[str, Any], stop: asyncio.Event
    ) -> None:
        """`tail -F` on the remote host (it follows rotation itself); reconnect with back-off."""
        import asyncssh

        rest = source.path[len("ssh://") :]
        host, _, path = rest.partition("/")
        user, _, host = host.rpartition("@")
        hostname, _, port = host.partition(":")
        delay = 1.0
        while not stop.is_set():
            try:
                options: dict[str, Any] = {
                    "port": int(port or extra.get("port", 22)),
                    "username": user or extra.get("user"),
                    "known_hosts": str(extra.get("known_hosts", "~/.ssh/known_hosts")).replace(
                        "~", str(Path.home()), 1
                    ),
                    "agent_path": None,
                }
                if extra.get("key"):
                    options["client_keys"] = [
                        asyncssh.import_private_key(resolve(str(extra["key"])))
                    ]
                async with asyncssh.connect(hostname, **options) as conn:
                    target = "/" + path
                    if extra.get("pattern"):
                        target = f"$(ls -t /{path.rstrip('/')}/{extra['pattern']} | head -1)"
                    async with conn.create_process(f"tail -n 0 -F {target}") as proc:
                        self.errors.pop(source.id, None)
                        delay = 1.0
                        lines = LineAssembler()  # readline() would hold a line of any size
                        while not stop.is_set():
                            chunk = await proc.stdout.read(1 << 16)
                            if not chunk:
                                break
                            if complete := lines.feed(str(chunk)):
                                self._emit(source, complete)
            except (OSError, asyncssh.Error) as exc:
                self.errors[source.id] = REDACT(f"{type(exc).__name__}: {exc}")[:200]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, 30.0)
