"""The journal service (issue 14): one process per journal holds the writer; scripts, second
terminals and the console are its clients over a Unix socket.

Every test drives real processes: `cutover service start` (detached), the real `cutover` CLI,
raw sockets, a client forked under another uid, `kill -9`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ROOT, SMALL, in_ci, require_binary, run_cli

from cutover_console.journal import JournalReader, JournalWriter
from cutover_console.runbook import ActionRefused
from cutover_console.service.address import ServiceAddress
from cutover_console.service.client import ServiceClient, ServiceUnavailable
from cutover_console.service.console_session import ServiceSession

pytestmark = pytest.mark.integration

ME = pwd.getpwuid(os.getuid()).pw_name
SPOOFED = {"USER": "spoofed-user", "LOGNAME": "spoofed-user"}


def new_journal(directory: Path, name: str = "j.sqlite") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    journal = directory / name
    result = run_cli("init", str(SMALL), "-j", str(journal), "--by", "lena")
    assert result.returncode == 0, result.stderr
    return journal


def service_pid(journal: Path) -> int:
    return int(json.loads(ServiceAddress.of(journal).info.read_text())["pid"])


def start_service(journal: Path, *extra: str) -> int:
    result = run_cli(
        "service", "start", "-j", str(journal), *extra,
        env={"USER": "service-env", "LOGNAME": "service-env"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "started (pid" in result.stdout
    return service_pid(journal)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return False
    return True


def wait_dead(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(pid), f"pid {pid} still running"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Path]:
    journal = new_journal(tmp_path / "svc")
    pid = start_service(journal, "--no-engines")
    yield journal
    run_cli("service", "stop", "-j", str(journal))  # the one running now, maybe a restarted one
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def events(journal: Path) -> list:  # type: ignore[type-arg]
    with JournalReader(journal) as reader:
        return list(reader.events())


SCRIPT = [
    ("note", "restore script started", "--by", "ravi", "--idempotency-key", "k1"),
    ("note", "restore script started", "--by", "ravi", "--idempotency-key", "k1"),
    ("note", "another text", "--by", "ravi", "--idempotency-key", "k1"),  # the key holds k1
    ("step", "start", "backup", "--by", "ravi"),  # freeze is not done
    ("step", "start", "freeze", "--by", "ravi"),  # not the owner, not a lead
    ("step", "start", "freeze", "--by", "nobody"),  # not a person
    ("step", "start", "freeze", "--by", "omar", "--idempotency-key", "f1"),
    ("step", "start", "freeze", "--by", "omar", "--idempotency-key", "f1"),
    ("step", "done", "freeze", "--by", "omar"),
    ("step", "start", "backup", "--by", "ravi"),
    ("signoff", "backup", "--by", "cleo"),  # not a role that may sign
    ("signoff", "backup", "--by", "dmitri"),
    ("step", "done", "backup", "--by", "ravi"),  # one sign-off of two
    ("override-gate", "dns-switch", "authority_new", "--by", "ravi", "--reason", "x"),
    ("step", "fail", "backup", "--by", "ravi"),  # no reason
    ("note", "on a step", "--by", "lena", "--step", "backup"),
]


def run_script(journal: Path) -> list[tuple[int, str, str]]:
    out = []
    for command in SCRIPT:
        result = run_cli(*command, "-j", str(journal), env=SPOOFED)
        stdout = re.sub(r"\(([0-9a-f]{16})\)", "(HASH)", result.stdout)
        out.append((result.returncode, stdout, result.stderr.replace(str(journal), "J")))
    return out


def test_scripts_write_through_the_service_same_rules_messages_exit_codes_and_keys(
    service: Path, tmp_path: Path
) -> None:
    """The same script against a journal with a service and one without: the same outputs and
    exit codes, event for event; through the service the OS account is the socket's peer."""
    pid = service_pid(service)
    direct = new_journal(tmp_path / "direct")
    via_service = run_script(service)
    without = run_script(direct)
    assert via_service == without
    codes = [code for code, _out, _err in via_service]
    assert codes == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 1, 1, 0], via_service
    assert "already recorded as event 2" in via_service[1][1]
    assert "the idempotency key 'k1' already holds event 2" in via_service[2][2]
    assert alive(pid)  # it answered all of it: nobody else wrote
    holder = (service.parent / (service.name + ".writer.lock")).read_text()
    assert '"command": "cutover service"' in holder and str(pid) in holder

    served, written = events(service), events(direct)
    assert [(e.seq, e.kind, e.actor, e.step, e.idem) for e in served] == [
        (e.seq, e.kind, e.actor, e.step, e.idem) for e in written
    ]
    people = [e for e in served if e.actor != "system" and e.seq > 1]
    assert people and {e.os_user for e in people} == {ME}  # from SO_PEERCRED, not $USER
    assert {e.os_user for e in written if e.seq > 1} == {ME}  # the real uid too (issue 20)


def test_a_second_writer_that_is_not_the_service_still_gets_exit_3(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    writer = JournalWriter.open(journal, command="some other writer")
    try:
        note = run_cli("note", "hello", "-j", str(journal), "--by", "lena")
        assert note.returncode == 3, note.stderr
        assert "some other writer" in note.stderr and "Only one writer" in note.stderr
        start = run_cli("service", "start", "-j", str(journal))
        assert start.returncode == 3, start.stderr
        assert "some other writer" in start.stderr
    finally:
        writer.close()
    assert run_cli("service", "status", "-j", str(journal)).returncode == 1


def test_service_status_and_stop(service: Path) -> None:
    pid = service_pid(service)
    status = run_cli("service", "status", "-j", str(service))
    assert status.returncode == 0, status.stderr
    assert f"running, pid {pid}" in status.stdout and "small-cutover" in status.stdout
    address = ServiceAddress.of(service)
    assert stat.S_IMODE(os.stat(address.directory).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(address.socket).st_mode) == 0o600
    stop = run_cli("service", "stop", "-j", str(service))
    assert stop.returncode == 0 and f"(pid {pid}) stopped" in stop.stdout
    wait_dead(pid)
    assert not address.socket.exists()
    # stopped cleanly: the next writer journals no recovery
    assert run_cli("note", "after", "-j", str(service), "--by", "lena").returncode == 0
    assert "journal.recovered" not in [e.kind for e in events(service)]
    gone = run_cli("service", "status", "-j", str(service))
    assert gone.returncode == 1 and "no journal service runs" in gone.stdout
    assert run_cli("service", "stop", "-j", str(service)).returncode == 1


def _as_nobody(address: Path, frame: bytes) -> tuple[str, bytes]:
    """Connect to `address` from a forked child running as uid nobody; what happened."""
    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(10)
            try:
                sock.connect(str(address))
            except OSError as exc:
                os.write(write, f"connect {exc.errno}\n".encode())
                os._exit(0)
            with contextlib.suppress(OSError):  # it may hang up before reading a byte
                sock.sendall(frame)
            data = b""
            with contextlib.suppress(OSError):
                while chunk := sock.recv(65536):
                    data += chunk
            os.write(write, b"answer\n" + data)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        said = pipe.read()
    os.waitpid(child, 0)
    head, _, rest = said.partition(b"\n")
    return head.decode(), rest


def _frame(body: object) -> bytes:
    data = json.dumps(body).encode()
    return struct.pack(">I", len(data)) + data


@pytest.fixture
def open_tree_service() -> Iterator[Path]:
    """A service whose journal's folder another account may traverse (pytest's own temporary
    folders are closed to others, which would hide what the service itself does)."""
    if os.getuid() != 0:
        if in_ci():
            pytest.fail("CI runs as root: this test needs to become another user")
        pytest.skip("needs root to run a client as another uid")
    folder = Path(tempfile.mkdtemp(prefix="cutover-peer-"))
    folder.chmod(0o755)
    journal = new_journal(folder)
    pid = start_service(journal, "--no-engines")
    try:
        yield journal
    finally:
        run_cli("service", "stop", "-j", str(journal))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_peer_of_another_uid_is_refused(open_tree_service: Path) -> None:
    service = open_tree_service
    address = ServiceAddress.of(service)
    note = _frame({"op": "note", "args": {"text": "from nobody", "by": "lena"}})
    # the directory (0700) keeps another account out before the service even sees it
    what, _ = _as_nobody(address.socket, note)
    assert what == "connect 13"  # EACCES
    # and were the files opened up by mistake, the service refuses by the peer's uid
    os.chmod(address.directory, 0o755)
    os.chmod(address.socket, 0o666)
    try:
        what, answer = _as_nobody(address.socket, note)
    finally:
        os.chmod(address.directory, 0o700)
        os.chmod(address.socket, 0o600)
    assert what == "answer"
    (length,) = struct.unpack(">I", answer[:4])
    body = json.loads(answer[4 : 4 + length])
    assert body["ok"] is False and body["error"]["type"] == "forbidden"
    assert f"uid {pwd.getpwnam('nobody').pw_uid} may not use" in body["error"]["message"]
    assert [e.kind for e in events(service)] == ["journal.created"]  # nothing recorded
    ok = run_cli("note", "from me", "-j", str(service), "--by", "lena")
    assert ok.returncode == 0, ok.stderr


def _raw(address: Path, data: bytes, *, read: bool = True) -> dict | None:  # type: ignore[type-arg]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(str(address))
    try:
        sock.sendall(data)
        if not read:
            return None
        header = sock.recv(4, socket.MSG_WAITALL)
        if len(header) < 4:
            return None
        (length,) = struct.unpack(">I", header)
        return json.loads(sock.recv(length, socket.MSG_WAITALL))  # type: ignore[no-any-return]
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (struct.pack(">I", 9) + b"not json!", "not UTF-8 JSON"),
        (struct.pack(">I", 4) + b"\xff\xfe\xfd\xfc", "not UTF-8 JSON"),
        (_frame([1, 2, 3]), "a request is a JSON object"),
        (_frame({"op": "drop_table"}), "unknown operation 'drop_table'"),
        (_frame({"op": {"x": 1}}), "unknown operation 'dict'"),
        (_frame({"op": "note", "args": []}), "'args' is a JSON object"),
        (_frame({"op": "note", "args": {"text": 5, "by": "lena"}}), "'text' must be a string"),
        (_frame({"op": "note", "args": {"by": "lena"}}), "note needs 'text'"),
        (_frame({"op": "note", "args": {"text": "t", "by": "lena", "sql": 1}}), "no argument"),
        (_frame({"op": "note", "args": {"text": "t", "by": "lena"}, "idem": 7}), "idempotency"),
        (_frame({"op": "status", "idem": "k"}), "takes no idempotency key"),
        (_frame({"op": "record_watcher", "args": {"connected": 1, "viewer": {}}}), "boolean"),
        (_frame({"op": "note", "args": {"text": "[" * 100_000, "by": "lena"}}), None),
        (struct.pack(">I", 2**31) + b"x" * 100, "over the limit"),
        (struct.pack(">I", 100) + b'{"op":', "in the middle of a frame"),
        (struct.pack(">I", 200_000) + b"[" * 200_000, "not UTF-8 JSON"),
    ],
    ids=lambda value: None if isinstance(value, str | None) else repr(value)[:24],
)
def test_hostile_input_on_the_socket_gets_a_refusal_never_a_crash(
    service: Path, data: bytes, says: str | None
) -> None:
    pid = service_pid(service)
    address = ServiceAddress.of(service).socket
    if says == "in the middle of a frame":  # the peer leaves mid-frame: nothing to answer
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(str(address))
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        header = sock.recv(4, socket.MSG_WAITALL)
        (length,) = struct.unpack(">I", header)
        answer = json.loads(sock.recv(length, socket.MSG_WAITALL))
        sock.close()
    else:
        answer = _raw(address, data)
    assert answer is not None
    if says is None:  # a hostile but valid note: journaled as text, inert
        assert answer["ok"] is True, answer
    else:
        assert answer["ok"] is False and says in answer["error"]["message"], answer
        assert answer["error"]["type"] == "bad_request"
    assert alive(pid)
    with ServiceClient.connect(service) as client:
        assert client is not None and client.call("status")["pid"] == pid
    kinds = [e.kind for e in events(service)]
    assert kinds == (["journal.created"] if says else ["journal.created", "note.added"])


def test_kill_9_of_the_service_loses_no_acknowledged_event(service: Path) -> None:
    """Writers hammer the service; it is killed -9 mid-stream. Every event a client was told
    about is in the journal with the seq it was told, the chain is intact, the CLI writes
    directly at once, and a new service journals the recovery."""
    pid = service_pid(service)
    acked: dict[str, int] = {}
    lost: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            key = f"w{n}-{i}"
            try:
                with ServiceClient.connect(service) as client:
                    if client is None:
                        return
                    result = client.call("note", {"text": key, "by": "lena"}, key)
            except ServiceUnavailable:
                lost.append(key)
                return
            acked[key] = result["event"]["seq"]
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    wait_dead(pid)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 40
    with JournalReader(service) as reader:
        assert reader.verify().ok
        for key, seq in acked.items():
            found = reader.by_idem(key)
            assert found is not None and found.seq == seq, key
    # no service now: the CLI writes directly (no exit 3, no stale socket in the way)
    direct = run_cli("note", "after the crash", "-j", str(service), "--by", "lena")
    assert direct.returncode == 0, direct.stderr
    assert "journal.recovered" in [e.kind for e in events(service)]
    # a retry of a request that was in flight when it died is recorded once at most
    for key in lost:
        retry = run_cli("note", key, "-j", str(service), "--by", "lena", "--idempotency-key", key)
        assert retry.returncode == 0, retry.stderr
    counts: dict[str, int] = {}
    for e in events(service):
        if e.idem:
            counts[e.idem] = counts.get(e.idem, 0) + 1
    assert counts and max(counts.values()) == 1
    start_service(service, "--no-engines")
    assert run_cli("note", "again", "-j", str(service), "--by", "lena").returncode == 0


def test_a_long_journal_path_gets_its_socket_in_the_runtime_directory(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    journal = new_journal(deep)
    address = ServiceAddress.of(journal)
    assert len(os.fsencode(journal.with_name(journal.name + ".service") / "socket")) > 107
    assert not str(address.directory).startswith(str(deep))
    assert len(os.fsencode(address.socket)) <= 107
    pid = start_service(journal, "--no-engines")
    try:
        assert stat.S_IMODE(os.stat(address.directory).st_mode) == 0o700
        note = run_cli("note", "deep", "-j", str(journal), "--by", "lena")
        assert note.returncode == 0, note.stderr
        assert run_cli("service", "status", "-j", str(journal)).returncode == 0
    finally:
        run_cli("service", "stop", "-j", str(journal))
        wait_dead(pid)


def test_engines_run_in_the_service(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    pid = start_service(journal)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(e.actor.startswith("engine:") for e in events(journal)):
                break
            time.sleep(0.1)
        engine = [e for e in events(journal) if e.actor.startswith("engine:")]
        assert engine, "no engine event journaled by the service"
        holder = (journal.parent / (journal.name + ".writer.lock")).read_text()
        assert '"command": "cutover service"' in holder and f'"pid": {pid}' in holder
    finally:
        run_cli("service", "stop", "-j", str(journal))
        wait_dead(pid)


def test_the_console_session_sends_named_requests_and_sees_a_dead_service(service: Path) -> None:
    session = ServiceSession(service)
    try:
        event = asyncio.run(session.request("note", text="from the console", by="lena"))
        assert event is not None and event.kind == "note.added" and event.os_user == ME
        assert session.state.head_seq == event.seq  # folded in from the journal
        with pytest.raises(ActionRefused) as refused:
            asyncio.run(session.request("start_step", step="backup", by="ravi"))
        assert "freeze" in str(refused.value)
        started = asyncio.run(session.request("start_step", step="freeze", by="omar"))
        assert started is not None and session.state.steps["freeze"].status == "in_progress"
        done = asyncio.run(
            session.request("complete_step", step="freeze", by="omar", confirmed="read")
        )
        assert done is not None and done.payload["point_of_no_return_confirmed"] == "read"
        assert session.refresh_status() is not None and not session.engine_errors

        dead = service_pid(service)
        os.kill(dead, signal.SIGKILL)
        wait_dead(dead)
        with pytest.raises(ActionRefused) as down:
            asyncio.run(session.request("note", text="lost?", by="lena"))
        assert down.value.refusals[0].rule == "service"
        # "not running", or "stopped answering" when the kill met the open connection first
        assert session.service_down and "journal service" in session.engine_errors["dns"]
        assert "nothing is probed" in session.engine_errors["flows"]
        session.restart()
        again = asyncio.run(session.request("note", text="after restart", by="lena"))
        assert again is not None and again.seq > event.seq
        assert not session.engine_errors
    finally:
        session.close()


class TmuxConsoles:
    """`cutover run` consoles in the test's own tmux server (no config: another server's window
    size never applies), each in its own session."""

    def __init__(self, journal: Path, *extra: str) -> None:
        self.tmux = [require_binary("tmux"), "-L", f"svc-console-{os.getpid()}", "-f", "/dev/null"]
        self.command = (
            f"cd {ROOT} && env PYTHONPATH={os.environ.get('PYTHONPATH', '')} {sys.executable} "
            f"-m cutover_console run {SMALL} --journal {journal} --as lena {' '.join(extra)}"
        )

    def screen(self, session: str) -> str:
        return subprocess.run(
            [*self.tmux, "capture-pane", "-p", "-t", session], capture_output=True, text=True
        ).stdout

    def wait_for(self, session: str, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.screen(session):
                return
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared:\n{self.screen(session)}")

    def open(self, session: str) -> int:
        """A new console; the pid of its pane's shell once the plan's title shows."""
        subprocess.run(
            [*self.tmux, "new", "-d", "-s", session, "-x", "150", "-y", "40", self.command],
            check=True,
        )
        self.wait_for(session, "Small test cutover")
        pane = subprocess.run(
            [*self.tmux, "display", "-p", "-t", session, "#{pane_pid}"],
            capture_output=True,
            text=True,
        )
        return int(pane.stdout.strip())

    def keys(self, session: str, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", session, *keys], check=True)

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def test_kill_9_of_the_console_leaves_the_service_and_run_reattaches(tmp_path: Path) -> None:
    """The lead's console in tmux is killed -9 after journaling through the service; the service
    keeps running (same pid), a script still writes, and `cutover run` again attaches to it (no
    second service) and shows the script's event."""
    journal = tmp_path / "j.sqlite"
    consoles = TmuxConsoles(journal, "--no-engines")
    try:
        console = consoles.open("first")
        pid = service_pid(journal)
        consoles.keys("first", "s")
        consoles.wait_for("first", "in prog")
        os.killpg(os.getpgid(console), signal.SIGKILL)  # the console and its shell, not the service
        wait_dead(console)
        assert alive(pid)
        note = run_cli("note", "while no console ran", "-j", str(journal), "--by", "ravi")
        assert note.returncode == 0, note.stderr
        seq = int(re.search(r"event (\d+)", note.stdout).group(1))  # type: ignore[union-attr]
        assert seq == 3  # the third event: after the journal's creation and the started step
        consoles.open("again")
        assert service_pid(journal) == pid  # attached, not started anew
        # the script's note, in the Journal pane (whatever width tmux gives the window)
        consoles.keys("again", "4")
        consoles.wait_for("again", "while no console ran")
        kinds = [e.kind for e in events(journal)]
        assert kinds == ["journal.created", "step.started", "note.added"]
    finally:
        consoles.close()
        run_cli("service", "stop", "-j", str(journal))


def test_quitting_the_console_asks_whether_the_service_stops_too(tmp_path: Path) -> None:
    """`q` in `cutover run` asks; escape (or "stay") keeps the console; "keep" quits and leaves
    the service running (the next console attaches to it); "stop" quits and stops it."""
    journal = tmp_path / "j.sqlite"
    consoles = TmuxConsoles(journal, "--no-engines")
    try:
        console = consoles.open("first")
        pid = service_pid(journal)
        consoles.keys("first", "q")
        consoles.wait_for("first", "Quit the console")
        consoles.wait_for("first", "keeps running, collecting evidence")
        consoles.keys("first", "Escape")
        deadline = time.monotonic() + 10
        while "Quit the console" in consoles.screen("first") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "Quit the console" not in consoles.screen("first")
        assert alive(console) and alive(pid)
        consoles.keys("first", "q")
        consoles.wait_for("first", "Quit the console")
        consoles.keys("first", "Enter")  # the first choice: keep the service
        wait_dead_pane = time.monotonic() + 15
        while consoles.screen("first") and time.monotonic() < wait_dead_pane:
            time.sleep(0.1)  # the session ends with its console
        assert alive(pid), "the service stopped although the lead chose to keep it"
        consoles.open("again")
        assert service_pid(journal) == pid  # attached to the one left running
        consoles.keys("again", "q")
        consoles.wait_for("again", "Quit the console")
        consoles.keys("again", "Down", "Enter")  # the second choice: stop it too
        wait_dead(pid, timeout=20)  # stopped, and the journal released:
        assert run_cli("note", "after", "-j", str(journal), "--by", "ravi").returncode == 0
    finally:
        consoles.close()
        run_cli("service", "stop", "-j", str(journal))


def test_the_console_offers_to_restart_a_dead_service(service: Path) -> None:
    """The lead's console (the real app, headless) writes through the service; the service is
    killed -9; the next action is refused with what happened and a dialog offers the restart;
    after it, the action goes through the new service."""
    from cutover_console.ui.app import LeadApp
    from cutover_console.ui.dialogs import ConfirmDialog

    session = ServiceSession(service)
    app = LeadApp(session, operator="lena", engines=True)  # type: ignore[arg-type]
    first = service_pid(service)

    async def until(pilot, condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert condition()

    def restarted() -> bool:
        info = ServiceAddress.of(service).info
        return info.exists() and service_pid(service) != first

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("s")  # the first step, freeze; lena is a lead
            await until(pilot, lambda: session.state.steps["freeze"].status == "in_progress")
            os.kill(first, signal.SIGKILL)
            wait_dead(first)
            await pilot.press("c")
            await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert "not running" in str(app.screen.body)  # type: ignore[attr-defined]
            await pilot.press("y")
            await until(pilot, restarted)
            await pilot.press("c")
            await until(pilot, lambda: session.state.steps["freeze"].status == "done")
            # the cursor moves on to the next step: let that land before the app closes (a
            # RowHighlighted handled after the panes are gone raises NoMatches in app.py)
            from cutover_console.ui.views import Checklist

            await until(pilot, lambda: app.query_one(Checklist).current_step() != "freeze")
            await pilot.pause(0.3)

    try:
        asyncio.run(scenario())
    finally:
        session.close()
    assert [e.kind for e in events(service)][-3:] == [
        "step.started",
        "journal.recovered",
        "step.completed",
    ]


def test_the_service_leaves_a_fold_snapshot_for_the_next_console(tmp_path: Path) -> None:
    from cutover_console.journal import Actor
    from cutover_console.runbook.snapshot import load_snapshot, snapshot_path

    journal = new_journal(tmp_path)
    writer = JournalWriter.open(journal)
    notes = [("note.added", {"text": f"n{i}"}, Actor("lena", "t"), None) for i in range(2100)]
    writer.append_many(notes)
    writer.close()
    assert not snapshot_path(journal).exists()
    pid = start_service(journal, "--no-engines")
    assert run_cli("note", "one more", "-j", str(journal), "--by", "lena").returncode == 0
    assert run_cli("service", "stop", "-j", str(journal)).returncode == 0
    wait_dead(pid)
    with JournalReader(journal) as reader:
        head = reader.head()
        assert head is not None
        assert load_snapshot(reader).head_seq == head.seq


def test_action_and_revise_go_through_the_service(tmp_path: Path) -> None:
    """`cutover action` asks the service whether the action may run, runs it here (its output
    is shown here), and the service journals the result; `cutover revise` sends the plan's text.
    """
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        SMALL.read_text().replace(
            "    owner: app-owner\n    duration: 15m\n",
            "    owner: app-owner\n    duration: 15m\n"
            '    action: {kind: command, run: "echo frozen-$((6*7))", timeout: 5}\n',
            1,
        )
    )
    journal = tmp_path / "j.sqlite"
    assert run_cli("init", str(plan), "-j", str(journal)).returncode == 0
    pid = start_service(journal, "--no-engines")
    try:
        early = run_cli("action", "freeze", "-j", str(journal), "--by", "omar", "--yes")
        assert early.returncode == 1 and "start 'freeze' before running its action" in early.stderr
        assert (
            run_cli("step", "start", "freeze", "-j", str(journal), "--by", "omar").returncode == 0
        )
        ran = run_cli("action", "freeze", "-j", str(journal), "--by", "omar", "--yes")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "freeze: command" in ran.stdout and "journaled as event" in ran.stdout
        revised = tmp_path / "revised.yaml"
        revised.write_text(plan.read_text().replace("Freeze deployments", "Freeze all deploys"))
        rev = run_cli("revise", str(revised), "-j", str(journal), "--by", "lena", "--reason", "r")
        assert rev.returncode == 0 and "plan revised" in rev.stdout, rev.stderr
        other = tmp_path / "other.yaml"
        other.write_text(plan.read_text().replace("id: small-cutover", "id: other-cutover"))
        bad = run_cli("revise", str(other), "-j", str(journal), "--by", "lena", "--reason", "r")
        assert bad.returncode == 2 and "is cutover 'other-cutover'" in bad.stderr
        assert alive(pid)
    finally:
        run_cli("service", "stop", "-j", str(journal))
        wait_dead(pid)
    served = events(journal)
    ran_event = next(e for e in served if e.kind == "action.ran")
    assert "frozen-42" in json.dumps(ran_event.payload) and ran_event.os_user == ME
    assert [e.kind for e in served][-1] == "plan.revised"


def test_the_lead_session_and_the_service_session_take_the_same_named_requests(
    service: Path, tmp_path: Path
) -> None:
    from cutover_console.plan import load_plan
    from cutover_console.service.lead import LeadSession

    lead = LeadSession.open(tmp_path / "lead.sqlite", load_plan(SMALL))
    remote = ServiceSession(service)
    try:
        for session in (lead, remote):
            first = asyncio.run(session.request("note", text="x", by="lena", idem="k"))
            again = asyncio.run(session.request("note", text="x", by="lena", idem="k"))
            assert first is not None and again is not None and again.seq == first.seq
            with pytest.raises(ActionRefused, match="freeze"):
                asyncio.run(session.request("start_step", step="backup", by="ravi"))
            started = asyncio.run(session.request("start_step", step="freeze", by="omar"))
            assert started is not None and started.kind == "step.started"
            assert session.state.steps["freeze"].status == "in_progress"
    finally:
        lead.close()
        remote.close()
    assert [e.kind for e in events(service)] == [e.kind for e in events(tmp_path / "lead.sqlite")]
