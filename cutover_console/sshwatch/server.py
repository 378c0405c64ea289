"""`cutover serve`: the read-only console over SSH, one `cutover watch` child per session on its own
pseudo-terminal (the design of Charm's Wish; see docs). Public keys only; no exec, subsystems,
forwarding or agent; the child's environment is built from an allowlist; every child process group
is killed and reaped when its session ends.

Issue 14: each viewer is forked from a warm parent (`zygote.py`, started once, with Textual, the
plan and the fold already loaded) instead of starting a fresh interpreter; `viewers="spawn"` keeps
the fresh interpreter per session (and is what runs when the warm parent cannot start).

Hardening (issue 11): modern algorithms only; new connections rate-limited per source address and
dropped before the banner when over it; unauthenticated connections capped (per source, and
globally with the oldest dropped for a newcomer); a login grace time; authenticated connections
counted and closed when they hold no session; keepalives close a frozen client.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
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
import asyncssh.encryption
import asyncssh.kex
import asyncssh.mac

from ..keys import load_or_create_key
from .channel import (
    CapNotice,
    ClientInput,
    PtyWriter,
    at_safe_point,
    capped_size,
)
from .forkserver import ForkedViewer, ViewerForkServer, WarmParentGone
from .last_words import REPORT_FD_ENV, read_last_words, stopped_because
from .signing import SigningDesk

log = logging.getLogger("cutover.serve")

OUTPUT_HIGH_WATER = 1 << 20  # bytes queued for a slow client before its viewer is paused
ENV_ALLOWED_FROM_CLIENT = ("LANG",)  # plus LC_*; nothing else the client sends reaches the child

# Preference order. Never SHA-1 kex or MACs, DH group exchange (it accepts a 1024-bit modulus),
# NIST curves, CBC or encrypt-and-MAC: what ssh-audit rates [fail] is not even offered.
KEX_ALGS = (
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512@openssh.com",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
)
ENCRYPTION_ALGS = (
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes128-ctr",
)
MAC_ALGS = ("hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com")
HOST_KEY_ALGS = {"ssh-ed25519": ("ssh-ed25519",), "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256")}
MIN_RSA_BITS = 3072


@dataclass
class Limits:
    max_sessions: int = 50
    max_per_key: int = 5  # sessions, and authenticated connections, per key
    # authenticated connections, with or without a session: `ssh -N` takes a slot too
    max_connections: int = 50
    no_session_timeout: float = 30.0  # an authenticated connection without a session is closed
    # new connections per source address: a token bucket of `connection_burst`, refilled at
    # `connection_rate` a second; over it, the socket is closed before the SSH banner
    connection_burst: int = 10
    connection_rate: float = 3.0
    # connections that have not authenticated yet: a source may hold this many ...
    max_unauthenticated_per_source: int = 10
    # ... and all together this many; when full, the oldest is dropped for the newcomer (a
    # teammate authenticates in well under a second, an idle flood never does)
    max_unauthenticated: int = 64
    login_timeout: float = 20.0  # grace time to authenticate
    idle_timeout: float = 8 * 3600.0  # no keystroke from the viewer for this long: closed
    # a client that stops answering is closed after interval * (count_max + 1) = 60 s
    keepalive_interval: float = 15.0
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


def algorithms(host_key: asyncssh.SSHKey) -> dict[str, Any]:
    """`create_server` options: the modern lists narrowed to what this asyncssh supports
    (sntrup761 needs liboqs, say), and the host key offered with modern signatures only. A list
    left empty, or a host key outside the modern set, stops the server at start-up."""
    supported = {
        "kex_algs": asyncssh.kex.get_kex_algs(),
        "encryption_algs": asyncssh.encryption.get_encryption_algs(),
        "mac_algs": asyncssh.mac.get_mac_algs(),
    }
    wanted = {"kex_algs": KEX_ALGS, "encryption_algs": ENCRYPTION_ALGS, "mac_algs": MAC_ALGS}
    chosen: dict[str, Any] = {}
    for kind, names in wanted.items():
        chosen[kind] = [name for name in names if name.encode() in supported[kind]]
        if not chosen[kind]:
            raise RuntimeError(
                f"this asyncssh ({asyncssh.__version__}) supports none of the allowed "
                f"{kind.removesuffix('_algs')} algorithms: {', '.join(names)}"
            )
    key_type = host_key.get_algorithm()
    if key_type not in HOST_KEY_ALGS:
        raise RuntimeError(f"host key type {key_type} is not allowed: use ed25519 (or RSA)")
    bits = getattr(getattr(host_key, "pyca_key", None), "key_size", MIN_RSA_BITS)
    if key_type == "ssh-rsa" and bits < MIN_RSA_BITS:
        raise RuntimeError(f"the RSA host key has {bits} bits: at least {MIN_RSA_BITS} are needed")
    # the server has no `server_host_key_algs`: it offers what the key pair lists, and for RSA
    # asyncssh would list ssh-rsa (SHA-1) too
    (keypair,) = asyncssh.load_keypairs([host_key])
    keypair.host_key_algorithms = [name.encode() for name in HOST_KEY_ALGS[key_type]]
    chosen["server_host_keys"] = [keypair]
    return chosen


def source_of(host: str) -> str:
    """What a per-source limit counts: an IPv4 address, or an IPv6 /64 (one machine is usually
    given a whole /64, so counting single addresses would let it rotate through them)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class RateLimiter:
    """A token bucket per source: `burst` connections at once, then `rate` a second."""

    def __init__(
        self, burst: int, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = float(burst)
        self.rate = rate
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # source -> (tokens, when)
        self.pruned = 0.0

    def allow(self, source: str) -> bool:
        now = self.clock()
        tokens, then = self.buckets.get(source, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        allowed = tokens >= 1.0
        self.buckets[source] = (tokens - 1.0 if allowed else tokens, now)
        # many sources: forget those whose bucket is full again (at most once a second, or a
        # flood from many addresses would pay for a full scan on every connection)
        if len(self.buckets) > 10_000 and now - self.pruned >= 1.0:
            self.pruned = now
            self.buckets = {
                src: (t, w)
                for src, (t, w) in self.buckets.items()
                if t + (now - w) * self.rate < self.burst
            }
        return allowed


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
    """One connection: its admission, authentication, and the refusals that apply to all of it."""

    def __init__(self, hub: WatchHub) -> None:
        self.hub = hub
        self.conn: asyncssh.SSHServerConnection | None = None
        self.host = self.source = ""
        self.peer = "?"
        self.fingerprint = ""  # of the key that authenticated it
        self.comment = ""
        self.sessions = 0
        self.closed = False
        self.no_session_timer: asyncio.TimerHandle | None = None
        self.key: asyncssh.SSHKey | None = None
        self.watcher = False  # its key is in authorized_keys
        self.signer: str | None = None  # the person the plan lists its key for (signing only)

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        host, port = (conn.get_extra_info("peername") or ("", 0))[:2]
        self.host, self.peer = str(host), f"{host}:{port}"
        self.source = source_of(self.host)
        if not self.hub.admit(self):
            conn.abort()  # before asyncssh sends its banner: no byte, no crypto spent on it

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True  # a session ending after this must not arm the timer again
        self.disarm()
        self.hub.forget(self)

    def begin_auth(self, username: str) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        """The key must be in authorized_keys, and its `from=` must match the client."""
        options = self.hub.authorized.validate(key, self.host, self.host)
        self.key, self.watcher = key, options is not None
        # a key only the plan lists may sign; a watcher's is looked up when it asks to sign
        self.signer = None if self.watcher else self.hub.desk.person_of(key)
        if options is None and self.signer is None:
            log.warning("refused key %s from %s", key.get_fingerprint(), self.host)
            return False
        self.fingerprint = key.get_fingerprint()
        self.comment = self.hub.comments.get(self.fingerprint, "")
        return True

    def auth_completed(self) -> None:
        assert self.conn is not None
        refusal = self.hub.authenticated(self)
        if refusal:
            log.warning("refused %s: %s", self.describe(), refusal)
            self.conn.disconnect(asyncssh.DISC_TOO_MANY_CONNECTIONS, refusal)
        else:
            self.arm()

    def arm(self) -> None:
        """No session on this connection: it may not hold its slot for long (`ssh -N`)."""
        self.disarm()
        if self.hub.limits.no_session_timeout > 0 and not self.closed:
            self.no_session_timer = asyncio.get_running_loop().call_later(
                self.hub.limits.no_session_timeout, self._no_session
            )

    def disarm(self) -> None:
        if self.no_session_timer is not None:
            self.no_session_timer.cancel()
            self.no_session_timer = None

    def _no_session(self) -> None:
        self.no_session_timer = None
        if self.conn is not None and self.sessions == 0:
            log.info("closing %s: no session opened", self.describe())
            self.conn.disconnect(
                asyncssh.DISC_BY_APPLICATION,
                f"no session within {self.hub.limits.no_session_timeout:.0f} s "
                "(connect with `ssh -t` to watch)",
            )

    def describe(self) -> str:
        return f"{self.comment or self.fingerprint or 'unauthenticated'} from {self.peer}"

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
        viewers: str = "fork",
    ) -> None:
        self.journal = journal
        self.limits = limits or Limits()
        self.viewers: dict[int, Viewer] = {}
        self.on_change = on_change
        # the lean watcher entry point (no CLI): twenty of these may run at once
        self.command = command or [sys.executable, "-m", "cutover_console.ui", str(journal)]
        # "fork": from the warm parent; "spawn": a fresh interpreter (a command given is spawned)
        self.viewers_from = "spawn" if command else viewers
        self.warm: ViewerForkServer | None = None
        self._warming: asyncio.Task[ViewerForkServer | None] | None = None
        self.children: set[int] = set()
        self.rate = RateLimiter(self.limits.connection_burst, self.limits.connection_rate)
        # not authenticated yet, oldest first (dicts keep insertion order)
        self.pending: dict[WatchServer, None] = {}
        self.pending_from: dict[str, int] = {}  # source -> how many of `pending`
        self.connections: dict[int, WatchServer] = {}  # authenticated, by id of the connection
        self.refused: dict[str, tuple[float, int]] = {}  # source -> (last logged, refused since)
        self.authorized: Any = None
        self.comments: dict[str, str] = {}
        self.desk = SigningDesk(journal)

    async def start(
        self, host: str, port: int, host_key: asyncssh.SSHKey, authorized_keys: Path
    ) -> asyncssh.SSHAcceptor:
        self.authorized = asyncssh.read_authorized_keys(str(authorized_keys))
        self.comments = key_comments(authorized_keys)
        if self.viewers_from == "fork":  # warming up beside the listening server
            self._warming = asyncio.create_task(self._start_warm_parent())
        return await asyncssh.create_server(
            lambda: WatchServer(self),
            host,
            port,
            **algorithms(host_key),
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

    async def _start_warm_parent(self) -> ViewerForkServer | None:
        warm = ViewerForkServer(self.journal, child_environment("", {}))
        try:
            await warm.start()
        except (OSError, TimeoutError, WarmParentGone) as exc:
            log.warning("no warm parent (%s): viewers start as fresh processes", exc)
            return None
        self.warm = warm
        return warm

    async def _warm_parent(self) -> ViewerForkServer | None:
        """The running warm parent (started again if it died), or None: spawn instead."""
        if self._warming is None:
            return None
        warm = await asyncio.shield(self._warming)
        if warm is not None and not warm.alive:
            self._warming = asyncio.create_task(self._start_warm_parent())
            warm = await asyncio.shield(self._warming)
        return warm

    async def stop(self) -> None:
        """Stop the warm parent, if any (it kills and reaps any viewer it still has)."""
        if self._warming is not None:
            warm = await self._warming
            if warm is not None:
                await warm.stop()

    # -- connections ---------------------------------------------------------------------
    def admit(self, server: WatchServer) -> bool:
        """A new TCP connection: within its source's rate and unauthenticated share?"""
        source, limits = server.source, self.limits
        if not self.rate.allow(source):
            refusal = "over the connection rate"
        elif self.pending_from.get(source, 0) >= limits.max_unauthenticated_per_source:
            refusal = f"{limits.max_unauthenticated_per_source} unauthenticated connections open"
        else:
            if len(self.pending) >= limits.max_unauthenticated:
                oldest = next(iter(self.pending))
                log.warning("dropping the oldest unauthenticated connection, %s", oldest.peer)
                self._unpend(oldest)
                if oldest.conn is not None:
                    oldest.conn.abort()
            self.pending[server] = None
            self.pending_from[source] = self.pending_from.get(source, 0) + 1
            return True
        # a flood would write a line per attempt: one a minute per source, with the count
        now = time.monotonic()
        logged, count = self.refused.get(source, (-60.0, 0))
        if now - logged >= 60.0:
            log.warning("refused %d new connection(s) from %s: %s", count + 1, source, refusal)
            logged, count = now, -1
        if len(self.refused) > 10_000:
            self.refused.clear()
        self.refused[source] = (logged, count + 1)
        return False

    def authenticated(self, server: WatchServer) -> str:
        """Authentication succeeded: a refusal if the connection limits are reached, else ''."""
        self._unpend(server)
        if len(self.connections) >= self.limits.max_connections:
            return f"the server is full ({self.limits.max_connections} connections)"
        same_key = sum(1 for c in self.connections.values() if c.fingerprint == server.fingerprint)
        if same_key >= self.limits.max_per_key:
            return f"this key already has {same_key} connections open"
        assert server.conn is not None
        self.connections[id(server.conn)] = server
        return ""

    def forget(self, server: WatchServer) -> None:
        self._unpend(server)
        if server.conn is not None and self.connections.get(id(server.conn)) is server:
            del self.connections[id(server.conn)]

    def _unpend(self, server: WatchServer) -> None:
        if server in self.pending:
            del self.pending[server]
            left = self.pending_from[server.source] - 1
            if left:
                self.pending_from[server.source] = left
            else:
                del self.pending_from[server.source]

    # -- one session ---------------------------------------------------------------------
    async def session(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        server = self.connections.get(id(process.channel.get_connection()))
        if server is None:  # closed meanwhile
            process.exit(1)
            return
        viewer = Viewer(server.fingerprint, server.comment, server.peer)
        if self.desk.is_signing_command(process.command) and server.key is not None:
            server.signer = server.signer or self.desk.person_of(server.key)
        if self.desk.is_signing_command(process.command) and server.signer is not None:
            await self.desk.run(process, server.signer)  # statement/signoff (sshwatch/signing.py)
            return
        refusal = self._refusal(process, viewer, server.watcher)
        if refusal:
            log.warning("refused %s: %s", viewer.describe(), refusal)
            process.stderr.write(f"cutover: {refusal}\r\n".encode())
            process.exit(1)
            return
        self.viewers[id(process)] = viewer
        server.sessions += 1
        server.disarm()
        self._notify("connected", viewer)
        try:
            await self._run_child(process, viewer)
        finally:
            self.viewers.pop(id(process), None)
            server.sessions -= 1
            if server.sessions == 0:
                server.arm()  # e.g. a multiplexing master kept open after its last session
            self._notify("disconnected", viewer)
            log.info(
                "session of %s ended after %.0f s", viewer.describe(), time.time() - viewer.started
            )

    def _refusal(
        self, process: asyncssh.SSHServerProcess[bytes], viewer: Viewer, watcher: bool = True
    ) -> str:
        if self.desk.is_signing_command(process.command):
            return "signing is for keys the plan lists for a person; this key is not one"
        if process.command is not None:
            return "commands are not served here; connect with plain `ssh -t` to watch"
        if process.subsystem is not None:
            return f"the {process.subsystem} subsystem is not served here"
        if not watcher:
            return (
                "this key may sign (statement, signoff) but not watch: it is not in authorized_keys"
            )
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
        asked_width, asked_height, _pw, _ph = process.get_terminal_size()
        notice = CapNotice()
        size = capped_size(asked_width, asked_height)
        if notice.resized((asked_width, asked_height), size):
            log.info("window of %s capped: %s", viewer.describe(), notice.text())
        master, slave = pty.openpty()
        _set_size(master, *size)
        report_r, report_w = os.pipe2(os.O_CLOEXEC)  # the viewer's last words (issue 21)
        env = child_environment(process.get_terminal_type() or "", dict(process.env))

        def controlling_tty() -> None:  # in the child: own session, the PTY as its terminal
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)

        child: asyncio.subprocess.Process | ForkedViewer | None = None
        warm = await self._warm_parent()
        if warm is not None:
            try:
                child = await warm.fork(slave, {**env, REPORT_FD_ENV: "3"}, report_w)
            except (OSError, TimeoutError, WarmParentGone) as exc:
                log.warning("warm parent could not fork a viewer (%s): starting one fresh", exc)
        if child is None:
            child = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env={**env, REPORT_FD_ENV: str(report_w)},
                preexec_fn=controlling_tty,
                close_fds=True,
                pass_fds=(report_w,),
            )
        os.close(slave)
        os.close(report_w)
        viewer.pid = child.pid
        self.children.add(child.pid)
        log.info("session of %s: viewer pid %s", viewer.describe(), child.pid)
        loop = asyncio.get_running_loop()
        os.set_blocking(master, False)
        done = asyncio.Event()
        last_input = time.monotonic()
        tail = b""  # the end of what the viewer last wrote: is a notice safe to add now?
        noticed = 0.0
        pty_closed = False  # the viewer's side ended (it exited), not the client's

        def add_notice() -> None:
            nonlocal noticed
            if notice.asked is not None and at_safe_point(tail):
                noticed = time.monotonic()
                with contextlib.suppress(Exception):
                    process.stdout.write(notice.escape())

        def pty_readable() -> None:
            nonlocal tail, pty_closed
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            pty_closed = not data
            if data:
                tail = data[-512:]
                try:
                    process.stdout.write(data)
                    if notice.asked is not None and time.monotonic() - noticed > 1.0:
                        add_notice()  # again after the viewer's redraw may have cleared it
                    if process.channel.get_write_buffer_size() > OUTPUT_HIGH_WATER:
                        loop.remove_reader(master)  # the client is slow: the viewer waits
                        drained = asyncio.ensure_future(process.stdout.drain())
                        drained.add_done_callback(resume_output)
                    return
                except (BrokenPipeError, ConnectionError):
                    pass  # the client is gone: end the session
            loop.remove_reader(master)
            done.set()

        def resume_output(drained: asyncio.Future[None]) -> None:
            if not drained.cancelled() and drained.exception() is not None:
                done.set()  # the client is gone
            elif not done.is_set():
                loop.add_reader(master, pty_readable)

        loop.add_reader(master, pty_readable)
        writer = PtyWriter(master)

        async def client_to_pty() -> None:
            nonlocal last_input
            cleaned = ClientInput()
            try:
                while True:
                    try:
                        data = await process.stdin.read(4096)
                    except asyncssh.TerminalSizeChanged as change:
                        asked = (change.width, change.height)
                        size = capped_size(*asked)
                        if notice.resized(asked, size) and time.monotonic() - noticed > 60.0:
                            log.info("window of %s capped: %s", viewer.describe(), notice.text())
                        _set_size(master, *size)  # SIGWINCH to the child
                        loop.call_later(0.5, add_notice)
                        continue
                    except (asyncssh.BreakReceived, asyncssh.SignalReceived):
                        continue  # nothing the client signals reaches the viewer
                    if not data:
                        break
                    last_input = time.monotonic()
                    # whole, in order, valid UTF-8; nothing more is read until the PTY took it
                    await writer.write(cleaned.feed(data))
            except Exception:  # the connection dropped, or the viewer's side closed
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
        if pty_closed:  # the viewer is exiting: let it finish, to say how it ended
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), 2.0)
        died = child.returncode is not None  # it ended on its own, not closed with its session
        await self._reap(child)
        os.close(master)
        rc = child.returncode if child.returncode is not None else 0
        last_words = read_last_words(report_r)
        os.close(report_r)
        if died and (rc != 0 or last_words):
            why = stopped_because(rc, last_words)
            log.warning("the viewer of %s stopped: %s", viewer.describe(), why)
            with contextlib.suppress(Exception):
                process.stderr.write(f"\r\ncutover: the viewer stopped: {why}\r\n".encode())
        with contextlib.suppress(Exception):
            process.exit(max(rc, 0))  # always exit: the client must not hang

    async def _reap(self, child: asyncio.subprocess.Process | ForkedViewer) -> None:
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
        if isinstance(child, ForkedViewer):
            with contextlib.suppress(OSError, WarmParentGone):
                child.release()  # only now may the warm parent reap it (its pid was held)
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
        await hub.stop()


__all__ = [
    "Limits",
    "RateLimiter",
    "Viewer",
    "WatchHub",
    "algorithms",
    "child_environment",
    "load_or_create_host_key",
    "serve_forever",
]
