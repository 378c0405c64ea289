"""The SSH server's side of the warm parent (`zygote.py`): start it, hand it a PTY per session,
follow its children.

The server never forks itself (it runs asyncssh's event loop, and inside `cutover run --serve`
Textual's threads too): it starts the warm parent as a fresh interpreter, with the same clean
environment as a viewer, and talks to it over a socketpair.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import itertools
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("cutover.serve")

VIEWER_APP = "cutover_console.ui.app:WatchApp"  # by name: the server itself never loads Textual
MAX_PACKET = 65536


class WarmParentGone(RuntimeError):
    """The warm parent is not running (it failed to start, or died)."""


class ForkedViewer:
    """A viewer forked by the warm parent, with what the session code uses of an asyncio
    subprocess: `pid`, `returncode`, `wait()`. Its pid stays held (a zombie of the warm parent)
    until `release()`, so the server may signal its group until then."""

    def __init__(self, pid: int, parent: ViewerForkServer) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._parent = parent
        self._exited = asyncio.Event()

    def _exit(self, rc: int) -> None:
        if self.returncode is None:
            self.returncode = rc
        self._exited.set()

    async def wait(self) -> int:
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode

    def release(self) -> None:
        """The session is over: the warm parent may reap the child now."""
        self._parent.viewers.pop(self.pid, None)
        self._parent.send({"op": "reap", "pid": self.pid})


class ViewerForkServer:
    """One warm parent for one journal."""

    def __init__(self, journal: Path, env: dict[str, str], app: str = VIEWER_APP) -> None:
        self.journal = journal
        self.env = env
        self.app = app
        self.process: asyncio.subprocess.Process | None = None
        self.sock: socket.socket | None = None
        self.info: dict[str, Any] = {}
        self.viewers: dict[int, ForkedViewer] = {}
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[int]] = {}
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._stopping = False

    @property
    def alive(self) -> bool:
        return self.sock is not None

    async def start(self, timeout: float = 60.0) -> dict[str, Any]:
        """Start the warm parent and wait until it has loaded everything; what it reports."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cutover_console.sshwatch.zygote",
                str(self.journal),
                str(theirs.fileno()),
                self.app,
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # a viewer's group is never the server's or its own
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        self.sock = ours
        self._ready = loop.create_future()
        loop.add_reader(ours, self._readable)
        try:
            self.info = await asyncio.wait_for(self._ready, timeout)
        except (TimeoutError, WarmParentGone):
            await self.stop()
            raise
        log.info(
            "warm parent (pid %s) ready in %.2f s: Textual %s, %d modules, fold at event %s, "
            "the app %s",
            self.info.get("pid"),
            self.info.get("seconds", 0.0),
            "loaded" if self.info.get("textual") else "NOT loaded",
            self.info.get("modules", 0),
            self.info.get("head"),
            "rehearsed" if self.info.get("rehearsed") else "NOT rehearsed",
        )
        return self.info

    def send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
        if self.sock is None:
            raise WarmParentGone("the warm parent is not running")
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
        self.sock.sendmsg([json.dumps(message).encode()], ancillary)

    async def fork(
        self, pty_fd: int, env: dict[str, str], report_fd: int | None = None, timeout: float = 10.0
    ) -> ForkedViewer:
        """A new viewer on `pty_fd`, writing its last words to `report_fd` if given (the server
        may close its copies once this returns)."""
        request = next(self._ids)
        waiting = asyncio.get_running_loop().create_future()
        self._waiting[request] = waiting
        try:
            fds = (pty_fd,) if report_fd is None else (pty_fd, report_fd)
            self.send({"op": "fork", "id": request, "env": env}, fds)
            pid = await asyncio.wait_for(waiting, timeout)
        finally:
            self._waiting.pop(request, None)
        viewer = self.viewers.get(pid)
        if viewer is None:  # (the exit report cannot come first: the parent answers first)
            viewer = self.viewers[pid] = ForkedViewer(pid, self)
        return viewer

    def _readable(self) -> None:
        assert self.sock is not None
        while True:
            try:
                data = self.sock.recv(MAX_PACKET)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._lost()
                return
            try:
                message = json.loads(data)
                self._handle(message)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("warm parent sent something unreadable: %s", exc)

    def _handle(self, message: dict[str, Any]) -> None:
        op = message["op"]
        if op == "ready" and self._ready is not None and not self._ready.done():
            self._ready.set_result(message)
        elif op == "forked":
            pid = int(message["pid"])
            self.viewers.setdefault(pid, ForkedViewer(pid, self))
            waiting = self._waiting.get(int(message["id"]))
            if waiting is not None and not waiting.done():
                waiting.set_result(pid)
        elif op == "failed":
            error = WarmParentGone(str(message.get("error", "the warm parent failed")))
            waiting = self._waiting.get(int(message.get("id", 0)))
            if waiting is not None and not waiting.done():
                waiting.set_exception(error)
            elif self._ready is not None and not self._ready.done():
                self._ready.set_exception(error)
        elif op == "exited":
            viewer = self.viewers.get(int(message["pid"]))
            if viewer is not None:
                viewer._exit(int(message["rc"]))

    def _lost(self) -> None:
        """The warm parent died: its children are orphans now (the sessions kill their groups)."""
        if self.sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.sock)
            self.sock.close()
            self.sock = None
            if not self._stopping:
                log.warning("the warm parent has gone; the next viewer starts a new one")
        gone = WarmParentGone("the warm parent has gone")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(gone)
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_exception(gone)
        for viewer in self.viewers.values():
            viewer._exit(1)
        self.viewers.clear()

    async def stop(self) -> None:
        """Stop the warm parent (it kills and reaps any child left)."""
        self._stopping = True
        self._lost()
        if self.process is not None and self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), 3)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()


__all__ = ["VIEWER_APP", "ForkedViewer", "ViewerForkServer", "WarmParentGone"]
