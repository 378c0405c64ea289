"""The journal service: one process per journal that holds its writer and runs its engines, and
takes the journal operations of its clients (the console, `cutover note` and friends) over a
Unix socket.

Each request is checked (protocol), then run on the one journal thread with the rules of the
runbook, recorded as done from the OS account the kernel names for the peer (SO_PEERCRED), and
answered only once its transaction is committed: what a client was told is journaled survives a
`kill -9` of the service. A peer of another uid is refused before it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import pwd
import signal
import socket
import struct
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..clock import Clock, SystemClock
from ..journal import JournalWriter
from ..runbook import Cutover
from ..runbook.snapshot import save_snapshot
from . import intake, protocol
from .address import SERVICE_COMMAND, ServiceAddress
from .engines import run_engines
from .operations import apply, error_body
from .protocol import BadRequest, FrameError, Request

COMMAND = SERVICE_COMMAND
BACKLOG = 1024  # connections the kernel queues before accept (capped by net.core.somaxconn)
# connections accepted in one turn of the loop (asyncio's default is 100): a connect flood then
# takes turns with the requests of connections already open, instead of a hundred at a time
ACCEPT_BURST = 8
JOURNAL_CHECK_EVERY = 2.0  # seconds
MEMORY_CHECK_EVERY = 2.0  # seconds between two looks at what freed frames could give back
SNAPSHOT_EVERY = 60.0  # seconds between two fold snapshots (when the journal moved)


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end, as the kernel recorded it."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return pid, uid, gid


@functools.lru_cache(maxsize=64)
def account_name(uid: int) -> str:
    """The account's name (cached: a connect flood asks it for every connection, and each
    lookup reads the password database)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class JournalService:
    """The service for one journal. `serve()` runs until `stop` (a request, SIGTERM, SIGINT)."""

    def __init__(
        self,
        journal: Path,
        *,
        engines: bool = True,
        clock: Clock | None = None,
        base: Path | None = None,
    ) -> None:
        self.address = ServiceAddress.of(journal)
        self.clock = clock or SystemClock()
        self.engines = engines
        self.base = base
        self.writer = JournalWriter.open(journal, clock=self.clock, command=COMMAND)
        self.cutover = Cutover(self.writer, self.clock)
        self.cutover.state_lock = threading.RLock()
        self._journal_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self.engine_errors: dict[str, str] = {}
        self.started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.stopping = asyncio.Event()
        self.clients = 0
        self.requests = 0
        self._closed = False
        self._snapshot_at = 0
        self.frames = intake.FrameBudgets()  # incomplete frames of all peers, together

    async def serve(self, ready: asyncio.Event | None = None) -> None:
        self.address.prepare()
        with contextlib.suppress(FileNotFoundError):
            self.address.socket.unlink()  # a service killed before it could clean up
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_mask = os.umask(0o177)  # the socket is born 0600: no moment when others may connect
        try:
            listener.bind(str(self.address.socket))
        finally:
            os.umask(old_mask)
        os.chmod(self.address.socket, 0o600)
        listener.listen(BACKLOG)
        server = await asyncio.start_unix_server(
            self._client, sock=listener, limit=1 << 16, backlog=ACCEPT_BURST
        )
        self._write_info()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        with contextlib.suppress(ValueError, OSError):  # survive the terminal closing
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        engines = asyncio.create_task(self._run_engines()) if self.engines else None
        watchdog = asyncio.create_task(self._stop_when_the_journal_is_gone())
        snapshots = asyncio.create_task(self._save_snapshots())
        trimming = asyncio.create_task(self._give_memory_back())
        if ready is not None:
            ready.set()
        try:
            await self.stopping.wait()
        finally:
            server.close()
            with contextlib.suppress(FileNotFoundError):
                self.address.socket.unlink()
            with contextlib.suppress(FileNotFoundError):
                self.address.info.unlink()
            watchdog.cancel()
            snapshots.cancel()
            trimming.cancel()
            if engines is not None:
                await engines
            if self.address.journal.exists():  # the next console starts from it
                await loop.run_in_executor(self._journal_thread, self._save_snapshot)
            self.close()

    async def _save_snapshots(self) -> None:
        """Every SNAPSHOT_EVERY, when the journal moved: a console attaching after a crash
        folds only what came after."""
        loop = asyncio.get_running_loop()
        while not self.stopping.is_set():
            await asyncio.sleep(SNAPSHOT_EVERY)
            await loop.run_in_executor(self._journal_thread, self._save_snapshot)

    def _save_snapshot(self) -> None:
        """On the journal thread (the state changes only there); best effort."""
        state = self.cutover.state
        if state.head_seq == self._snapshot_at:
            return
        try:
            save_snapshot(self.writer, state)
        except Exception as exc:  # a snapshot is derived: never a reason to stop serving
            print(f"fold snapshot not saved: {type(exc).__name__}: {exc}", file=sys.stderr)
        self._snapshot_at = state.head_seq

    async def _give_memory_back(self) -> None:
        """What big frames held goes back to the system a moment after they are freed."""
        while not self.stopping.is_set():
            await asyncio.sleep(MEMORY_CHECK_EVERY)
            intake.give_memory_back(self.frames)

    async def _stop_when_the_journal_is_gone(self) -> None:
        """A journal deleted (or its folder) leaves nothing to serve: stop, not linger."""
        while not self.stopping.is_set():
            await asyncio.sleep(JOURNAL_CHECK_EVERY)
            if not self.address.journal.exists():
                self.stopping.set()

    async def _run_engines(self) -> None:
        loop = asyncio.get_running_loop()

        def journal(write: Any) -> None:
            loop.run_in_executor(self._journal_thread, write)

        await run_engines(
            self.cutover, self.clock, journal, self.stopping, self.engine_errors, base=self.base
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._journal_thread.shutdown(wait=True)
        self.writer.close()

    def _write_info(self) -> None:
        info = {
            "pid": os.getpid(),
            "since": self.started,
            "journal": str(self.address.journal),
            "engines": self.engines,
        }
        tmp = self.address.info.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.address.info)

    # -- one client --------------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        try:
            _pid, uid, _gid = peer_credentials(sock)
        except OSError:
            writer.close()
            return
        if uid != os.getuid():  # another account: told so, nothing read from it
            with contextlib.suppress(OSError):
                writer.write(
                    protocol.encode(
                        {
                            "ok": False,
                            "error": {
                                "type": "forbidden",
                                "message": f"uid {uid} may not use the journal service of "
                                f"uid {os.getuid()}",
                            },
                        }
                    )
                )
                await writer.drain()
            writer.close()
            return
        os_user = account_name(uid)
        self.clients += 1
        try:
            while not self.stopping.is_set():
                try:
                    frame = await intake.read_frame(reader, self.frames)
                except FrameError as exc:  # too big, or cut: answer once and hang up
                    await self._answer(writer, {"ok": False, "error": error_body(BadRequest(exc))})
                    return
                if frame is None:
                    return
                response = await self._handle(frame, os_user)
                await self._answer(writer, response)
        except (ConnectionError, OSError):
            return
        finally:
            self.clients -= 1
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, body: dict[str, Any]) -> None:
        try:
            frame = protocol.encode(body)
        except FrameError as exc:  # an answer too big to send is a failure to say, not a hang-up
            error = {"type": "internal", "message": f"the answer could not be sent: {exc}"}
            frame = protocol.encode({"ok": False, "error": error})
        writer.write(frame)
        await writer.drain()

    async def _handle(self, frame: bytes, os_user: str) -> dict[str, Any]:
        try:
            request = protocol.parse_request(protocol.decode(frame))
        except BadRequest as exc:
            return {"ok": False, "error": error_body(exc)}
        self.requests += 1
        if request.op == "status":
            return {"ok": True, "result": self.status()}
        if request.op == "stop":
            self.stopping.set()
            return {"ok": True, "result": {"stopping": True, "pid": os.getpid()}}
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._journal_thread, self._apply, request, os_user)
        except Exception as exc:  # a refusal, a full disk, a bug: an answer, never a crash
            return {"ok": False, "error": error_body(exc)}
        return {"ok": True, "result": result}

    def _apply(self, request: Request, os_user: str) -> dict[str, Any]:
        with self.cutover.on_behalf_of(os_user):
            return apply(self.cutover, request)

    def status(self) -> dict[str, Any]:
        state = self.cutover.state
        done, total = state.progress()
        return {
            "pid": os.getpid(),
            "since": self.started,
            "journal": str(self.address.journal),
            "cutover": state.plan.cutover.id,
            "head": str(state.head),
            "progress": [done, total],
            "engines": self.engines,
            "engine_errors": dict(self.engine_errors),
            "clients": self.clients,
            "requests": self.requests,
        }


def main(journal: Path, *, engines: bool = True, base: Path | None = None) -> None:
    """Run the service in the foreground until it is stopped (`cutover service run`)."""
    service = JournalService(journal, engines=engines, base=base)
    try:
        asyncio.run(service.serve())
    finally:
        service.close()  # a second close does nothing
