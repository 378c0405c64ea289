"""`cutover serve`: the read-only console over SSH, one `cutover watch` child per session on its own
pseudo-terminal (the design of Charm's Wish; see docs). Public keys only; no exec, subsystems,
forwarding or agent; the child's environment is built from an allowlist; every child process group
is killed and reaped when its session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import pty
import signal
import struct
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from ..keys import load_or_create_key

log = logging.getLogger("cutover.serve")

ENV_ALLOWED_FROM_CLIENT = ("LANG",)  # plus LC_*; nothing else the client sends reaches the child


@dataclass
class Limits:
    max_sessions: int = 50
    max_per_key: int = 5
    login_timeout: float = 30.0
    idle_timeout: float = 8 * 3600.0  # no keystroke from the viewer for this long: closed
    keepalive_interval: float = 30.0
    keepalive_count_max: int = 3


@dataclass
class Viewer:
    """One session, for the server's log and the lead's header."""

    key_fingerprint: str
    comment: str
    peer: str
    started: float = field(default_factory=time.time)
    pid: int | None = None

    def describe(self) -> str:
        return f"{self.comment or self.key_fingerprint} from {self.peer}"


def load_or_create_host_key(path: Path) -> asyncssh.SSHKey:
    """The server's identity: generated once (ed25519, mode 0600), reused afterwards."""
    return load_or_create_key(path, "cutover-console host key")


def child_environment(term: str, client_env: dict[str, str]) -> dict[str, str]:
    """Only what the child needs; from the client, only the terminal type and locale."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "TERM": term or "xterm-256color",
        "COLORTERM": "truecolor",
    }
    for name in ("VIRTUAL_ENV", "PYTHONPATH"):  # how this installation itself runs
        if name in os.environ:
            env[name] = os.environ[name]
    for name, value in client_env.items():
        if name in ENV_ALLOWED_FROM_CLIENT or name.startswith("LC_"):
            env[name] = value
    return env


class WatchServer(asyncssh.SSHServer):
    """Authentication and the refusals that apply to the whole connection."""

    def __init__(self, hub: WatchHub) -> None:
        self.hub = hub
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.hub.identities.pop(id(self.conn), None)

    def begin_auth(self, username: str) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        """The key must be in authorized_keys, and its `from=` must match the client."""
        assert self.conn is not None
        host, port = (self.conn.get_extra_info("peername") or ("", 0))[:2]
        options = self.hub.authorized.validate(key, str(host), str(host))
        if options is None:
            log.warning("refused key %s from %s", key.get_fingerprint(), host)
            return False
        self.hub.identities[id(self.conn)] = (
            key.get_fingerprint(),
            self.hub.comments.get(key.get_fingerprint(), ""),
            f"{host}:{port}",
        )
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        log.warning("refused remote port forwarding %s:%s", listen_host, listen_port)
        return False  # -R

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        log.warning("refused local port forwarding to %s:%s", dest_host, dest_port)
        return False  # -L

    def unix_server_requested(self, listen_path: str) -> bool:
        return False

    def unix_connection_requested(self, dest_path: str) -> bool:
        return False


class WatchHub:
    """Runs the server and the sessions; knows who is watching."""

    def __init__(
        self,
        journal: Path,
        *,
        limits: Limits | None = None,
        on_change: Callable[[str, Viewer], None] | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.journal = journal
        self.limits = limits or Limits()
        self.viewers: dict[int, Viewer] = {}
        self.on_change = on_change
        # the lean watcher entry point (no CLI): twenty of these may run at once
        self.command = command or [sys.executable, "-m", "cutover_console.ui", str(journal)]
        self.children: set[int] = set()
        self.identities: dict[int, tuple[str, str, str]] = {}  # connection -> who, from where
        self.authorized: Any = None
        self.comments: dict[str, str] = {}

    async def start(
        self, host: str, port: int, host_key: asyncssh.SSHKey, authorized_keys: Path
    ) -> asyncssh.SSHAcceptor:
        self.authorized = asyncssh.read_authorized_keys(str(authorized_keys))
        self.comments = key_comments(authorized_keys)
        return await asyncssh.create_server(
            lambda: WatchServer(self),
            host,
            port,
            server_host_keys=[host_key],
            process_factory=self.session,
            encoding=None,
            line_editor=False,
            agent_forwarding=False,
            x11_forwarding=False,
            allow_scp=False,
            login_timeout=self.limits.login_timeout,
            keepalive_interval=self.limits.keepalive_interval,
            keepalive_count_max=self.limits.keepalive_count_max,
        )

    # -- one session ---------------------------------------------------------------------
    async def session(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        conn = process.channel.get_connection()
        fingerprint, comment, peer = self.identities.get(id(conn), ("?", "", "?"))
        viewer = Viewer(fingerprint, comment, peer)
        refusal = self._refusal(process, viewer)
        if refusal:
            log.warning("refused %s: %s", viewer.describe(), refusal)
            process.stderr.write(f"cutover: {refusal}\r\n".encode())
            process.exit(1)
            return
        self.viewers[id(process)] = viewer
        self._notify("connected", viewer)
        try:
            await self._run_child(process, viewer)
        finally:
            self.viewers.pop(id(process), None)
            self._notify("disconnected", viewer)
            log.info(
                "session of %s ended after %.0f s", viewer.describe(), time.time() - viewer.started
            )

    def _refusal(self, process: asyncssh.SSHServerProcess[bytes], viewer: Viewer) -> str:
        if process.command is not None:
            return "commands are not served here; connect with plain `ssh -t` to watch"
        if process.subsystem is not None:
            return f"the {process.subsystem} subsystem is not served here"
        if process.get_terminal_type() is None:
            return "a terminal is needed (connect with `ssh -t`)"
        if len(self.viewers) >= self.limits.max_sessions:
            return f"the server is full ({self.limits.max_sessions} viewers)"
        same_key = sum(
            1 for v in self.viewers.values() if v.key_fingerprint == viewer.key_fingerprint
        )
        if same_key >= self.limits.max_per_key:
            return f"this key already has {same_key} sessions open"
        return ""

    async def _run_child(self, process: asyncssh.SSHServerProcess[bytes], viewer: Viewer) -> None:
        width, height, _pw, _ph = process.get_terminal_size()
        master, slave = pty.openpty()
        _set_size(master, width or 80, height or 24)
        env = child_environment(process.get_terminal_type() or "", dict(process.env))

        def controlling_tty() -> None:  # in the child: own session, the PTY as its terminal
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)

        child = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            preexec_fn=controlling_tty,
            close_fds=True,
        )
        os.close(slave)
        viewer.pid = child.pid
        self.children.add(child.pid)
        log.info("session of %s: viewer pid %s", viewer.describe(), child.pid)
        loop = asyncio.get_running_loop()
        os.set_blocking(master, False)
        done = asyncio.Event()
        last_input = time.monotonic()

        def pty_readable() -> None:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if data:
                try:
                    process.stdout.write(data)
                    return
                except (BrokenPipeError, ConnectionError):
                    pass  # the client is gone: end the session
            loop.remove_reader(master)
            done.set()

        loop.add_reader(master, pty_readable)

        async def client_to_pty() -> None:
            nonlocal last_input
            try:
                while True:
                    try:
                        data = await process.stdin.read(4096)
                    except asyncssh.TerminalSizeChanged as change:
                        _set_size(master, change.width, change.height)  # SIGWINCH to the child
                        continue
                    except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                        continue  # nothing the client signals reaches the viewer
                    if not data:
                        break
                    last_input = time.monotonic()
                    with contextlib.suppress(OSError):
                        os.write(master, data)
            except Exception:  # the connection dropped: the session ends
                pass
            finally:
                done.set()

        async def idle_watch() -> None:
            while not done.is_set():
                await asyncio.sleep(min(30.0, self.limits.idle_timeout))
                if time.monotonic() - last_input > self.limits.idle_timeout:
                    log.info("closing idle session of %s", viewer.describe())
                    done.set()

        pump = asyncio.create_task(client_to_pty())
        idle = asyncio.create_task(idle_watch())
        waiter = asyncio.create_task(child.wait())
        await asyncio.wait(
            [asyncio.create_task(done.wait()), waiter], return_when=asyncio.FIRST_COMPLETED
        )
        for task in (pump, idle):
            task.cancel()
        with contextlib.suppress(Exception):
            loop.remove_reader(master)
        await self._reap(child)
        os.close(master)
        rc = child.returncode if child.returncode is not None else 0
        with contextlib.suppress(Exception):
            process.exit(max(rc, 0))  # always exit: the client must not hang

    async def _reap(self, child: asyncio.subprocess.Process) -> None:
        """TERM the child's process group, then KILL it, and wait for it."""
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(child.wait(), 3)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                await child.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # anything the viewer left in its group
        self.children.discard(child.pid)

    def _notify(self, what: str, viewer: Viewer) -> None:
        log.info("%s %s (key %s)", what, viewer.describe(), viewer.key_fingerprint)
        if self.on_change is not None:
            self.on_change(what, viewer)

    def watching(self) -> str:
        """For the lead's header: who is watching right now."""
        if not self.viewers:
            return ""
        names = sorted({v.comment or v.key_fingerprint[:16] for v in self.viewers.values()})
        return f"{len(self.viewers)} watching: {', '.join(names)}"


def key_comments(path: Path) -> dict[str, str]:
    """Fingerprint -> the comment of its authorized_keys line (who the viewer is, for logs)."""
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        words = line.split()
        for i, word in enumerate(words):
            if word.startswith(("ssh-", "ecdsa-", "sk-")) and i + 1 < len(words):
                try:
                    key = asyncssh.import_public_key(f"{word} {words[i + 1]}")
                except (asyncssh.KeyImportError, ValueError):
                    break
                out[key.get_fingerprint()] = " ".join(words[i + 2 :])
                break
    return out


def _set_size(fd: int, width: int, height: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


async def serve_forever(
    hub: WatchHub,
    host: str,
    port: int,
    host_key: asyncssh.SSHKey,
    authorized_keys: Path,
    ready: Callable[[], None] | None = None,
) -> None:
    server = await hub.start(host, port, host_key, authorized_keys)
    if ready is not None:
        ready()
    try:
        await asyncio.Event().wait()
    finally:
        server.close()
        await server.wait_closed()


__all__ = [
    "Limits",
    "Viewer",
    "WatchHub",
    "child_environment",
    "load_or_create_host_key",
    "serve_forever",
]
