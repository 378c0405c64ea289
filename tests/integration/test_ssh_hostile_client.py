"""Issue 21: a hostile SSH client against `cutover serve`, through asyncssh with a real PTY on the
server's side (the real viewer, forked from the warm parent). Invalid UTF-8 in every form the
issue found (single bytes, X10 mouse reports past column 95, random bytes) leaves the viewer
alive and drawing; 4 MB typed fast reaches the PTY whole; window sizes from 0×0 to 65535×65535
and a storm between them are capped, said so on screen, and leave the viewer alive, bounded,
idle and redrawing; a viewer that stops says why, redacted, to the client and the serve log."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest
from servers import free_port
from support import SMALL, run_cli
from test_ssh_hardening import alive
from test_ssh_watch import Served, keypair, start_serve, stop_serve, viewers_of

from cutover_console.sshwatch.channel import MAX_HEIGHT, MAX_WIDTH
from cutover_console.sshwatch.server import Limits, WatchHub, load_or_create_host_key

pytestmark = pytest.mark.integration

TITLE = b"Small test cutover"
MB = 1 << 20


class Client:
    """One asyncssh session with a PTY: what it received, as bytes."""

    def __init__(
        self, conn: asyncssh.SSHClientConnection, process: asyncssh.SSHClientProcess[bytes]
    ):
        self.conn = conn
        self.process = process
        self.seen = bytearray()
        self.errors = bytearray()
        self._tasks = [
            asyncio.create_task(self._pump(process.stdout, self.seen)),
            asyncio.create_task(self._pump(process.stderr, self.errors)),
        ]

    @staticmethod
    async def _pump(stream: asyncssh.SSHReader[bytes], into: bytearray) -> None:
        while True:
            data = await stream.read(65536)
            if not data:
                return
            into += data

    async def wait_for(self, text: bytes, since: int = 0, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen[since:]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never came: {bytes(self.seen[-1500:])!r}")
            await asyncio.sleep(0.1)

    async def ended(self, timeout: float = 20.0) -> None:
        await asyncio.wait_for(self.process.wait_closed(), timeout)
        await asyncio.wait_for(asyncio.gather(*self._tasks), timeout)

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        self.conn.close()


async def connect(
    served: Served, size: tuple[int, int] = (120, 40), term: str = "xterm-256color"
) -> Client:
    conn = await asyncssh.connect(
        "127.0.0.1",
        served.port,
        username="watcher",
        client_keys=[str(served.key)],
        known_hosts=str(served.root / "known"),
    )
    process = await conn.create_process(term_type=term, term_size=size, encoding=None)
    return Client(conn, process)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def idle_within(pid: int, seconds: float = 5.0) -> float:
    """How long until the viewer uses less than 10 % of a core over half a second."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - before < 0.05:
            return time.monotonic() - start
    raise AssertionError(f"viewer {pid} still busy after {seconds} s")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_serve(tmp_path_factory.mktemp("hostile-client"))
    try:
        yield server
    finally:
        stop_serve(server)


def the_viewer(served: Served) -> int:
    (pid,) = viewers_of(served.proc.pid)
    return pid


# -- 1. invalid UTF-8 --------------------------------------------------------------------------
def x10(button: int, column: int, row: int) -> bytes:
    """An X10 mouse report as a terminal without SGR mode sends it (1-based cells)."""
    return b"\x1b[M" + bytes([32 + button, 32 + column, 32 + row])


rng = random.Random(21)
INVALID_UTF8 = {
    "0xff": b"\xff",
    "0xfe 0xff": b"\xfe\xff",
    "lone continuation": b"\x80",
    "cut two-byte": b"\xc3",
    "cut three-byte then ASCII": b"\xe2\x82(",
    "overlong slash": b"\xc0\xaf",
    "surrogate": b"\xed\xa0\x80",
    "past U+10FFFF": b"\xf4\x90\x80\x80",
    "X10 click at column 120": x10(0, 120, 10) + x10(3, 120, 10),
    "X10 motion past column 95": b"".join(x10(32, c, 5) for c in range(90, 224, 7)),
    "X10 cut between reads": x10(0, 200, 20)[:4],
    # random bytes, less the keys that quit a watcher (q, ctrl+q, ctrl+c): those are legitimate
    "random bytes": bytes(rng.randrange(256) for _ in range(256)).translate(None, b"qQ\x11\x03"),
}


def test_invalid_utf8_never_kills_the_viewer(served: Served) -> None:
    async def scenario() -> None:
        client = await connect(served)
        try:
            await client.wait_for(TITLE)
            pid = the_viewer(served)
            for name, data in INVALID_UTF8.items():
                client.process.stdin.write(data)
                await asyncio.sleep(0.3)
                assert alive(pid), f"the viewer died on {name}"
            client.process.stdin.write(b"\xe2\x82")  # the rest of the cut X10 and a cut euro
            await asyncio.sleep(1.0)
            assert alive(pid) and the_viewer(served) == pid
            # still drawing: a resize is answered with a fresh frame of the console
            mark = len(client.seen)
            client.process.change_terminal_size(100, 30)
            await client.wait_for(TITLE, since=mark)
            await idle_within(pid)
            assert b"UnicodeDecodeError" not in client.seen + client.errors
        finally:
            client.close()

    asyncio.run(scenario())
    assert "UnicodeDecodeError" not in (served.root / "serve.log").read_text(errors="replace")


# -- 2. 4 MB typed fast, intact --------------------------------------------------------------
# A stand-in for the viewer that reads its PTY raw and says what it got: the SHA-256 of the
# first N bytes. (The real viewer handles each keystroke as an event: 4 M of them take minutes.)
# It starts a second late, like a viewer: what is typed meanwhile must wait, not meet a
# canonical line discipline (CR turned into LF, echoed, lines past 4,095 bytes cut).
COUNTING_VIEWER = """
import hashlib, os, sys, time, tty
time.sleep(1.0)  # starting up, as a viewer does, before it turns line editing off
tty.setraw(0)
want = int(sys.argv[1]); got = hashlib.sha256(); n = 0
while n < want:
    chunk = os.read(0, min(65536, want - n))
    if not chunk:
        break
    got.update(chunk); n += len(chunk)
os.write(1, f"GOT {n} {got.hexdigest()} END".encode())
"""


def typed_text(size: int) -> bytes:
    """Multi-byte text (2, 3 and 4 bytes a character) with newlines, as a fast typist's burst."""
    line = "héllo wörld € 漢字 😀 — cutover ✓\r".encode()
    return (line * (size // len(line) + 1))[:size].rsplit(b"\r", 1)[0] + b"\r"


def test_four_megabytes_typed_fast_reach_the_pty_whole(tmp_path: Path) -> None:
    key = keypair(tmp_path, "dba-raj")
    (tmp_path / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    journal = tmp_path / "j.sqlite"
    assert run_cli("init", str(SMALL), "--journal", str(journal)).returncode == 0
    text = typed_text(4 * MB)
    script = tmp_path / "counting_viewer.py"
    script.write_text(COUNTING_VIEWER)

    async def scenario() -> None:
        hub = WatchHub(
            journal, limits=Limits(), command=[sys.executable, str(script), str(len(text))]
        )
        port = free_port()
        host_key = load_or_create_host_key(tmp_path / "host_key")
        server = await hub.start("127.0.0.1", port, host_key, tmp_path / "authorized_keys")
        try:
            (tmp_path / "known").write_text(
                f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}"
            )
            client = await connect(Served(tmp_path, journal, port, None, key))  # type: ignore[arg-type]
            try:
                for start in range(0, len(text), 4096):  # typed: no pause, no bracketed paste
                    client.process.stdin.write(text[start : start + 4096])
                await client.wait_for(b"END", timeout=120)
                seen = bytes(client.seen)
                digest = hashlib.sha256(text).hexdigest()
                assert f"GOT {len(text)} {digest} END".encode() in seen, seen[-200:]
            finally:
                client.close()
        finally:
            server.close()
            await server.wait_closed()
            await hub.stop()

    asyncio.run(scenario())


# -- 3. window sizes ---------------------------------------------------------------------------
SIZES = [(0, 0), (1, 1), (10000, 10000), (65535, 65535)]


def test_window_sizes_are_capped_and_the_viewer_survives_them(served: Served) -> None:
    async def check_after(client: Client, pid: int, what: str) -> None:
        await asyncio.sleep(1.0)
        assert alive(pid), f"the viewer died after {what}"
        assert rss_mb(pid) <= 200, f"{rss_mb(pid):.0f} MB after {what}"
        await idle_within(pid)
        mark = len(client.seen)
        client.process.change_terminal_size(120, 40)  # back to a normal size: redrawn
        await client.wait_for(TITLE, since=mark)
        await idle_within(pid)

    async def scenario() -> None:
        client = await connect(served)
        try:
            await client.wait_for(TITLE)
            pid = the_viewer(served)
            for width, height in SIZES:
                mark = len(client.seen)
                client.process.change_terminal_size(width, height)
                if width > MAX_WIDTH:
                    await client.wait_for(
                        f"your window is {width}×{height}; the console is drawn at "
                        f"{MAX_WIDTH}×{MAX_HEIGHT}".encode(),
                        since=mark,
                    )
                await check_after(client, pid, f"{width}×{height}")
            for _ in range(10):  # a storm: every size, back to back
                for width, height in [*SIZES, (120, 40), (65535, 1), (1, 65535)]:
                    client.process.change_terminal_size(width, height)
            await check_after(client, pid, "the storm")
        finally:
            client.close()

    asyncio.run(scenario())
    assert "capped" in (served.root / "serve.log").read_text()


def test_a_huge_first_window_is_capped_too(served: Served) -> None:
    async def scenario() -> None:
        client = await connect(served, size=(65535, 65535))
        try:
            await client.wait_for(b"the console is drawn at 1000\xc3\x97500")
            pid = the_viewer(served)
            assert rss_mb(pid) <= 200
            await idle_within(pid, 10.0)
        finally:
            client.close()

    asyncio.run(scenario())


# -- 4. a dying viewer says why ----------------------------------------------------------------
def test_a_viewer_that_cannot_start_says_why_redacted(tmp_path: Path) -> None:
    # the journal's folder name is credential-shaped: the reason quotes the path, redacted
    root = tmp_path / "token=hunter2-secret"
    root.mkdir()
    served = start_serve(root)
    try:
        served.journal.rename(tmp_path / "elsewhere.sqlite")  # gone after the warm parent read it

        async def scenario() -> Client:
            client = await connect(served)
            await client.ended()
            return client

        client = asyncio.run(scenario())
    finally:
        stop_serve(served)
    said = bytes(client.errors).decode(errors="replace")
    assert said.startswith("\r\ncutover: the viewer stopped:") and "no such journal" in said, said
    assert said.count("\n") == 2  # one line
    (logged,) = [
        line for line in (root / "serve.log").read_text().splitlines() if "stopped:" in line
    ]
    assert "the viewer of dba-raj from 127.0.0.1" in logged and "no such journal" in logged
    for text in (said, logged, bytes(client.seen).decode(errors="replace")):
        assert "hunter2" not in text and "Traceback" not in text
    assert "token=***" in said


def test_a_killed_viewer_says_so_to_the_client_and_the_log(served: Served) -> None:
    async def scenario() -> Client:
        client = await connect(served)
        await client.wait_for(TITLE)
        os.kill(the_viewer(served), signal.SIGKILL)
        await client.ended()
        return client

    client = asyncio.run(scenario())
    said = bytes(client.errors).decode()
    assert said.strip() == "cutover: the viewer stopped: killed by SIGKILL", said
    assert "stopped: killed by SIGKILL" in (served.root / "serve.log").read_text()


def test_a_client_that_stops_reading_does_not_grow_the_server(served: Served) -> None:
    """Output backpressure: a client that reads nothing while its viewer redraws at the largest
    size again and again. The server stops reading the viewer's PTY past 1 MiB queued, so its
    own memory stays flat (without it, every frame would queue in the server)."""

    async def scenario() -> tuple[float, float]:
        conn = await asyncssh.connect(
            "127.0.0.1",
            served.port,
            username="watcher",
            client_keys=[str(served.key)],
            known_hosts=str(served.root / "known"),
        )
        try:
            process = await conn.create_process(
                term_type="xterm-256color", term_size=(1000, 500), encoding=None
            )
            await asyncio.sleep(5)  # the first frame, unread
            before = rss_mb(served.proc.pid)
            for n in range(40):  # forty full redraws at 1000×500 (about 1 MB each), unread
                process.change_terminal_size(1000 - n % 2, 500)
                await asyncio.sleep(0.25)
            await asyncio.sleep(3)
            after = rss_mb(served.proc.pid)
            data = await asyncio.wait_for(process.stdout.read(65536), 10)
            assert data  # the session is alive and still sends, once read
            return before, after
        finally:
            conn.close()

    before, after = asyncio.run(scenario())
    assert after - before < 8, (before, after)
