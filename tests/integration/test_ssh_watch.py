"""`cutover serve` against the real OpenSSH client: the watch console on a PTY per session, every
refusal, read-only by construction, and no process or fd left behind."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import free_port, wait_port
from support import ROOT, SMALL, require_binary, run_cli


@dataclass
class Served:
    root: Path
    journal: Path
    port: int
    proc: subprocess.Popen[bytes]
    key: Path

    def ssh(self, *args: str, key: Path | None = None) -> list[str]:
        return [
            "ssh",
            "-i",
            str(key or self.key),
            "-o",
            f"UserKnownHostsFile={self.root}/known",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-p",
            str(self.port),
            *args,
            "127.0.0.1",
        ]


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


ZYGOTE = b"cutover_console.sshwatch.zygote"


def is_warm_parent(pid: int) -> bool:
    try:
        return ZYGOTE in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def warm_parent_of(pid: int) -> int | None:
    """The server's warm parent (issue 14: viewers are forked from it), if it runs one."""
    return next((c for c in children_of(pid) if is_warm_parent(c)), None)


def viewers_of(pid: int) -> list[int]:
    """The server's viewer processes: forked by its warm parent, or spawned by itself."""
    out: list[int] = []
    for child in children_of(pid):
        out.extend(children_of(child) if is_warm_parent(child) else [child])
    return out


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def keypair(root: Path, name: str) -> Path:
    key = root / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def start_serve(root: Path, *options: str, keys: tuple[str, ...] = ("dba-raj",)) -> Served:
    """`cutover serve` on a free loopback port with a fresh journal and `keys` authorized (the
    first is the one `Served.ssh` uses); `options` go on its command line."""
    require_binary("ssh")
    made = [keypair(root, name) for name in keys]
    (root / "authorized_keys").write_text("".join(Path(f"{k}.pub").read_text() for k in made))
    journal = root / "j.sqlite"
    assert run_cli("init", str(SMALL), "--journal", str(journal)).returncode == 0
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cutover_console",
            "serve",
            "--journal",
            str(journal),
            "--port",
            str(port),
            "--authorized-keys",
            str(root / "authorized_keys"),
            "--host-key",
            str(root / "host_key"),
            *options,
        ],
        stdout=(root / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )  # a log file: an unread pipe would fill and stall the server
    wait_port("127.0.0.1", port)
    scan = subprocess.run(
        ["ssh-keyscan", "-p", str(port), "127.0.0.1"], capture_output=True, text=True
    )
    (root / "known").write_text(scan.stdout)
    assert oct((root / "host_key").stat().st_mode)[-3:] == "600"
    return Served(root, journal, port, proc, made[0])


def stop_serve(served: Served) -> None:
    os.killpg(served.proc.pid, signal.SIGTERM)
    served.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start_serve(tmp_path_factory.mktemp("serve"))
    try:
        yield server
    finally:
        stop_serve(server)


class Tmux:
    def __init__(self, name: str, command: list[str], size: tuple[int, int] = (120, 35)) -> None:
        self.name = name
        subprocess.run(
            [
                "tmux",
                "new",
                "-d",
                "-s",
                name,
                "-x",
                str(size[0]),
                "-y",
                str(size[1]),
                " ".join(command),
            ],
            check=True,
        )

    def screen(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True
        ).stdout

    def wait_for(self, text: str, timeout: float = 15) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if text in self.screen():
                return time.monotonic() - start
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def test_watch_over_ssh_follows_the_lead_and_resizes(served: Served) -> None:
    require_binary("tmux")
    view = Tmux(
        "ssh-watch-1",
        [
            *served.ssh("-t"),
            "-o",
            "SendEnv=LANG",
            "-o",
            "SetEnv=TEXTUAL_DRIVER=textual.drivers.web_driver:WebDriver",
        ],
    )
    try:
        view.wait_for("Small test cutover")
        assert (
            run_cli("step", "start", "freeze", "-j", str(served.journal), "--by", "omar").returncode
            == 0
        )
        assert view.wait_for("in progress", timeout=2.0) <= 2.0
        pids = viewers_of(served.proc.pid)
        assert len(pids) == 1
        environ = Path(f"/proc/{pids[0]}/environ").read_bytes().split(b"\0")
        names = {e.split(b"=")[0] for e in environ if e}
        assert b"TEXTUAL_DRIVER" not in names and b"COLUMNS" not in names
        assert b"TERM" in names
        # resize: the app follows the new size
        subprocess.run(
            ["tmux", "resize-window", "-t", view.name, "-x", "100", "-y", "30"], check=True
        )
        time.sleep(1.5)
        assert max(len(line) for line in view.screen().splitlines()) <= 100
        # every key the lead would use: nothing changes in the journal
        before = served.journal.read_bytes()
        for key in [
            "s",
            "c",
            "x",
            "k",
            "o",
            "g",
            "n",
            "v",
            "a",
            "r",
            "Enter",
            "y",
            "t",
            "/",
            "Escape",
            "1",
            "2",
            "3",
            "4",
            "m",
            "?",
            "Escape",
            "C-s",
            "C-p",
        ]:
            view.keys(key)
            time.sleep(0.05)
        view.keys("Escape")
        time.sleep(0.5)
        assert served.journal.read_bytes() == before
        view.keys("q")
        deadline = time.monotonic() + 10
        while viewers_of(served.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert viewers_of(served.proc.pid) == []
    finally:
        view.close()


def test_every_refusal(served: Served, tmp_path: Path) -> None:
    other = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)

    def attempt(*args: str, key: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*served.ssh(*args, key=key)],
            capture_output=True,
            text=True,
            timeout=20,
            stdin=subprocess.DEVNULL,
        )

    wrong_key = attempt("-t", key=other)
    assert wrong_key.returncode == 255 and "Permission denied" in wrong_key.stderr
    password = subprocess.run(
        [
            "ssh",
            "-o",
            "PreferredAuthentications=password,keyboard-interactive",
            "-o",
            "BatchMode=yes",
            "-o",
            f"UserKnownHostsFile={served.root}/known",
            "-p",
            str(served.port),
            "127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert password.returncode == 255 and "Permission denied (publickey)" in password.stderr
    execute = subprocess.run(
        [*served.ssh(), "cutover", "step", "done", "freeze"],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert execute.returncode != 0 and "commands are not served here" in execute.stderr
    sftp = subprocess.run([*served.ssh("-s"), "sftp"], capture_output=True, text=True, timeout=20)
    assert sftp.returncode != 0
    no_pty = attempt("-T")
    assert no_pty.returncode != 0 and "a terminal is needed" in no_pty.stderr
    remote = subprocess.run(
        [*served.ssh("-N", "-o", "ExitOnForwardFailure=yes", "-R", f"{free_port()}:127.0.0.1:22")],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert remote.returncode == 255 and "forwarding failed" in remote.stderr.lower()
    assert viewers_of(served.proc.pid) == []


def test_local_forwarding_is_refused(served: Served) -> None:
    listen = free_port()
    tunnel = subprocess.Popen(
        [*served.ssh("-N", "-L", f"{listen}:127.0.0.1:{served.port}")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port("127.0.0.1", listen)
        import socket

        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            s.settimeout(5)
            try:
                data = s.recv(64)  # a refused channel is closed without a byte
            except (ConnectionResetError, TimeoutError):
                data = b""
        assert not data.startswith(b"SSH-")
    finally:
        # the refusal is already in ssh's stderr; how fast the client itself
        # winds down after SIGTERM is OpenSSH's business, so do not wait on it
        tunnel.terminate()
        try:
            _, err = tunnel.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            tunnel.kill()
            _, err = tunnel.communicate(timeout=5)
    assert b"administratively prohibited" in err or b"open failed" in err


def test_connect_disconnect_cycles_leave_nothing_behind(served: Served) -> None:
    baseline = fds(served.proc.pid)
    deadline = time.monotonic() + 30
    while warm_parent_of(served.proc.pid) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    warm = warm_parent_of(served.proc.pid)
    assert warm is not None, "the server runs no warm parent"
    warm_baseline = fds(warm)
    for cycle in range(100):
        client = subprocess.Popen(
            [*served.ssh("-tt")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert client.stdout is not None and client.stdin is not None
        seen = b""
        deadline = time.monotonic() + 15
        while b"Small test" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([client.stdout], [], [], 0.5)
            if ready:
                seen += os.read(client.stdout.fileno(), 65536)
        assert b"Small test" in seen  # the first frame arrived
        if cycle % 2:
            client.kill()  # kill -9 of the client: the connection just drops
        else:
            client.stdin.write(b"q")  # a clean end: the viewer quits
            client.stdin.flush()
        client.wait(timeout=10)
        client.stdout.close()
        client.stdin.close()
    deadline = time.monotonic() + 15
    while viewers_of(served.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert viewers_of(served.proc.pid) == []
    time.sleep(0.5)
    assert fds(served.proc.pid) <= baseline + 2
    # one warm parent forked all 100 and holds nothing of them: no zombie, no fd
    assert warm_parent_of(served.proc.pid) == warm and children_of(warm) == []
    assert fds(warm) <= warm_baseline


def test_serve_inside_the_lead_console_shows_who_watches(served: Served, tmp_path: Path) -> None:
    import asyncio

    from cutover_console.service.lead import LeadSession
    from cutover_console.ui.app import LeadApp, ServeOptions

    journal = tmp_path / "lead.sqlite"
    assert run_cli("init", str(SMALL), "--journal", str(journal)).returncode == 0
    port = free_port()
    session = LeadSession.open(journal)
    app = LeadApp(
        session,
        engines=False,
        serve=ServeOptions(
            "127.0.0.1", port, served.root / "authorized_keys", tmp_path / "host_key"
        ),
    )

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            for _ in range(50):
                await pilot.pause(0.1)
                if app.hub is not None and app.hub.authorized is not None:
                    break
            scan = await asyncio.create_subprocess_exec(
                "ssh-keyscan",
                "-p",
                str(port),
                "127.0.0.1",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            known = (await scan.communicate())[0]
            (tmp_path / "known").write_bytes(known)
            client = await asyncio.create_subprocess_exec(
                "ssh",
                "-tt",
                "-i",
                str(served.key),
                "-o",
                f"UserKnownHostsFile={tmp_path}/known",
                "-o",
                "BatchMode=yes",
                "-p",
                str(port),
                "127.0.0.1",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            for _ in range(100):
                await pilot.pause(0.1)
                if "dba-raj" in app.watchers:
                    break
            assert app.watchers == "1 watching: dba-raj"
            client.kill()
            await client.wait()
            for _ in range(100):
                await pilot.pause(0.1)
                if not app.watchers:
                    break
            assert app.watchers == ""
            await pilot.pause(0.5)

    try:
        asyncio.run(scenario())
    finally:
        session.close()
    from cutover_console.journal import JournalReader
    from cutover_console.runbook import load_state

    watchers = load_state(JournalReader(journal)).watchers
    assert [w["kind"] for w in watchers] == ["watcher.connected", "watcher.disconnected"]
    assert watchers[0]["comment"] == "dba-raj" and watchers[1]["duration_s"] >= 0
