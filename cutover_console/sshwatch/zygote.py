"""The warm parent of SSH viewers (`python -m cutover_console.sshwatch.zygote JOURNAL FD APP`).

`cutover serve` starts this process once. It imports what a viewer runs (Textual, Rich, the
plan model, the watch app), folds the journal (from its fold snapshot when one is usable), then
waits on a Unix socket (fd FD, a socketpair with the server) for "fork one for this PTY": the PTY
arrives as a file descriptor (SCM_RIGHTS). Each child is its own process on that PTY, with every
hardening of a spawned viewer: its own session with the PTY as controlling terminal, the
environment it is given and nothing else, fresh signal handlers, no other fd, and a fold caught up
to the journal's head before its first frame. Forking is safe because this process never has a
thread or an event loop (it checks before each fork); the SSH server, which has both, never forks.

The server owns every child's lifecycle: this process reports a child's exit, kills what is left
of its process group while the child's pid is still held (a zombie), and reaps it only when the
server says so, so the server may signal the group at any moment without hitting a reused pid.
Messages are JSON, one per packet (SOCK_SEQPACKET).
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import fcntl
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

from ..journal import JournalError, JournalReader
from ..runbook.fold import CutoverState
from ..runbook.session import WatchSession
from ..runbook.snapshot import MIN_EVENTS, resume_state, save_snapshot
from .last_words import describe, report, say

# What Textual imports only once an app runs (found by diffing sys.modules around a run): the
# children would each import them again.
RUNTIME_MODULES = (
    "_strptime",
    "rich._emoji_codes",
    "textual._keyboard_protocol",
    "textual._parser",
    "textual._xterm_parser",
    "textual.drivers.linux_driver",
    "textual.drivers._writer_thread",
    "textual.layouts.factory",
    "textual.layouts.horizontal",
    "textual.layouts.stream",
    "textual.scrollbar",
)
REFRESH_EVERY = 2.0  # seconds idle between catching the fold up with the journal
MAX_PACKET = 65536
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: SIGKILL when the server dies, even by SIGKILL (its end of the socket closes too,
    but a blocked read might not be looked at in time)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class WarmParent:
    """The fork server's loop: one request at a time, children reported as they exit."""

    def __init__(self, journal: Path, control: socket.socket, app: str) -> None:
        self.journal = journal
        self.control = control
        self.app_name = app
        self.app_class: Any = None
        self.state: CutoverState | None = None
        self.styles: tuple[dict[str, str], Any] | None = None  # the rehearsal's, see below
        self.children: dict[int, bool] = {}  # pid -> exit already reported
        self.wake_r, self.wake_w = os.pipe()
        self.selector = selectors.DefaultSelector()

    # -- warming up --------------------------------------------------------------------------
    def warm(self) -> dict[str, Any]:
        """Import the viewer's code and fold the journal; what was loaded, for the server's log."""
        started = time.monotonic()
        module, _, name = self.app_name.partition(":")
        self.app_class = getattr(importlib.import_module(module), name)
        for extra in RUNTIME_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(extra)
        with JournalReader(self.journal) as reader:
            self.state = resume_state(reader)
            # the server's side may leave a snapshot for the next start (a viewer never writes)
            save_snapshot(reader, self.state, min_events=MIN_EVENTS)
        rehearsed = self.rehearse()
        gc.collect()
        gc.freeze()  # children share these pages: keep the collector from touching them
        return {
            "op": "ready",
            "pid": os.getpid(),
            "head": self.state.head_seq,
            "seconds": round(time.monotonic() - started, 3),
            "textual": "textual" in sys.modules,
            "modules": len(sys.modules),
            "rehearsed": rehearsed,
        }

    def rehearse(self) -> bool:
        """Run the viewer's app once, headless, before the first fork, so that what every
        viewer would build for itself on its first frame and keep (Textual's and Rich's caches:
        parsed styles, colours, cell widths, segments) is built here once and shared
        copy-on-write: 1.8 MiB less unique memory per viewer (docs/benchmarks.md). Nothing of
        it is a session's: it is this journal's screen at 160×45, before anyone connected.
        Whatever goes wrong here only costs that memory; this process must end it with no
        thread and no open connection, or it would not fork."""
        import asyncio

        async def once() -> None:
            session = WatchSession(self.journal, state=self.state)
            try:
                app = self.app_class(session)
                async with app.run_test(size=(160, 45), headless=True) as pilot:
                    await pilot.pause(0.2)
                    self.styles = (app.get_css_variables(), app.stylesheet)
            finally:
                session.close()

        try:
            asyncio.run(once())
        except Exception as exc:  # a journal damaged since the fold, a bug: the children say so
            print(f"warm parent: no rehearsal ({type(exc).__name__}: {exc})", file=sys.stderr)
            return False
        finally:
            for thread in threading.enumerate():  # the app's workers end with it
                if thread is not threading.main_thread():
                    thread.join(timeout=5)
        return threading.active_count() == 1

    def share_stylesheet(self, app: Any) -> None:
        """Give a viewer the rehearsal's stylesheet, already parsed and indexed, when it has
        the same CSS variables (the theme): each viewer parsed the app's and every widget's CSS
        again and rebuilt the index of its rules, a fifth of the CPU before its first frame.
        Textual adds a source it already has as nothing, so nothing is parsed again; a theme
        set later re-parses as usual."""
        if self.styles is None:
            return
        variables, stylesheet = self.styles
        with contextlib.suppress(Exception):  # (a probe app in the tests may have none)
            if app.get_css_variables() == variables:
                app.stylesheet = stylesheet

    def refresh(self) -> None:
        """Catch the fold up with the journal (through a connection closed again: a child must
        never inherit an open SQLite connection)."""
        if self.state is None:
            return
        try:
            with JournalReader(self.journal) as reader:
                self.state = resume_state(reader, self.state)
        except JournalError as exc:  # the child will find it too and say so on its screen
            print(f"warm parent: {exc}", file=sys.stderr, flush=True)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.send(self.warm())
        self.selector.register(self.control, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        while True:
            ready = self.selector.select(REFRESH_EVERY)
            if not ready:
                self.refresh()
            for key, _ in ready:
                if key.fileobj is self.control:
                    if not self.receive():
                        self.shutdown()
                        return
                else:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self.wake_r, 4096)
            self.report_exits()

    def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            self.control.send(json.dumps(message).encode())

    def receive(self) -> bool:
        """One request; False when the server has gone."""
        fds = array.array("i")
        try:
            data, ancillary, _flags, _addr = self.control.recvmsg(
                MAX_PACKET, socket.CMSG_SPACE(2 * fds.itemsize)
            )
        except InterruptedError:
            return True
        except OSError:
            return False
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
        if not data:
            for fd in fds:
                os.close(fd)
            return False
        try:
            request = json.loads(data)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            op, request = "", {}
        if op == "fork" and len(fds) in (1, 2):  # the PTY, and the pipe for its last words
            self.fork(int(request["id"]), fds[0], dict(request["env"]), fds[1:])
        elif op == "reap" and request.get("pid") in self.children:
            pid = int(request["pid"])
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            del self.children[pid]
        else:
            for fd in fds:
                os.close(fd)
        return True

    def fork(self, request: int, pty_fd: int, env: dict[str, str], extra: Any = ()) -> None:
        self.refresh()
        report_fd = extra[0] if extra else None
        if threading.active_count() != 1:  # never fork a process with threads
            for fd in (pty_fd, *extra):
                os.close(fd)
            self.send({"op": "failed", "id": request, "error": "the warm parent has threads"})
            return
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            self.become_viewer(pty_fd, env, report_fd)  # never returns
        for fd in (pty_fd, *extra):
            os.close(fd)
        self.children[pid] = False
        self.send({"op": "forked", "id": request, "pid": pid})

    def report_exits(self) -> None:
        for pid, reported in list(self.children.items()):
            if reported:
                continue
            try:
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                info = None
                self.children.pop(pid)
                self.send({"op": "exited", "pid": pid, "rc": 1})
                continue
            if info is None or info.si_pid == 0:
                continue
            # the child is a zombie: its pid (and group id) cannot be reused yet
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # anything the viewer left in its group
            rc = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
            self.children[pid] = True
            self.send({"op": "exited", "pid": pid, "rc": rc})

    def shutdown(self) -> None:
        """The server is gone: no viewer outlives it."""
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        for pid in self.children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)

    # -- in the child ------------------------------------------------------------------------
    def become_viewer(self, pty_fd: int, env: dict[str, str], report_fd: int | None) -> None:
        """In the forked child: the hardening of a spawned viewer, then the app. Never returns."""
        rc = 1
        try:
            signal.set_wakeup_fd(-1)
            self.selector.close()
            self.control.close()
            os.setsid()  # its own session and process group, which the server kills at the end
            for target in (0, 1, 2):
                os.dup2(pty_fd, target)
            if report_fd is not None:
                os.dup2(report_fd, 3)  # its last words to the server (CUTOVER_VIEWER_REPORT_FD)
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the PTY is its controlling terminal
            first_closed = 3 if report_fd is None else 4
            os.closerange(first_closed, _max_fd())  # the PTY's copy, the pipe, anything inherited
            for sig in (
                signal.SIGCHLD,
                signal.SIGHUP,
                signal.SIGTERM,
                signal.SIGQUIT,
                signal.SIGUSR1,
                signal.SIGUSR2,
                signal.SIGALRM,
                signal.SIGWINCH,
            ):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh Python has
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            os.environ.clear()
            os.environ.update(env)
            sys.stdout.flush()
            rc = self.run_viewer()
        except SystemExit as exit_:
            rc = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException as error:
            report(describe(error))  # the server says why, in one line (issue 21)
            rc = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(rc)  # never back into the parent's loop

    def run_viewer(self) -> int:
        try:
            session = WatchSession(self.journal, state=self.state)  # caught up to the head
        except JournalError as exc:
            say(str(exc))
            return 2
        try:
            app = self.app_class(session)
            self.share_stylesheet(app)
            app.run()
            with contextlib.suppress(AttributeError):  # (a probe app in the tests has none)
                app.report_last_words()
            return int(getattr(app, "return_code", 0) or 0)
        finally:
            session.close()


def _max_fd() -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(os.sysconf("SC_OPEN_MAX"))
    return 65536


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m cutover_console.sshwatch.zygote JOURNAL FD APP", file=sys.stderr)
        return 2
    _die_with_parent()
    control = socket.socket(fileno=int(argv[1]))
    parent = WarmParent(Path(argv[0]), control, argv[2])
    try:
        parent.run()
    except JournalError as exc:
        parent.send({"op": "failed", "id": 0, "error": str(exc)})
        return 2
    return 0


__all__ = ["RUNTIME_MODULES", "WarmParent", "main"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
