"""Issue 20: the journal service under a hostile local process and a flood. Each class of attack
goes through the real socket of a real detached service (or real racing processes), and after each
case the service's log holds no traceback."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import SMALL, run_cli

from cutover_console.journal import JournalReader
from cutover_console.service.address import ServiceAddress

pytestmark = pytest.mark.integration


def new_journal(directory: Path, name: str = "j.sqlite") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    journal = directory / name
    result = run_cli("init", str(SMALL), "-j", str(journal), "--by", "lena")
    assert result.returncode == 0, result.stderr
    return journal


def service_pid(journal: Path) -> int:
    return int(json.loads(ServiceAddress.of(journal).info.read_text())["pid"])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):  # a zombie is dead for our purposes
        if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
            return False
    return True


def log_is_clean(journal: Path) -> None:
    log = ServiceAddress.of(journal).log
    text = log.read_text(errors="replace") if log.exists() else ""
    assert "Traceback" not in text and "Error" not in text, text[-3000:]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Path]:
    journal = new_journal(tmp_path / "svc")
    result = run_cli("service", "start", "-j", str(journal), "--no-engines")
    assert result.returncode == 0 and "started (pid" in result.stdout, result.stderr
    pid = service_pid(journal)
    yield journal
    log_is_clean(journal)
    run_cli("service", "stop", "-j", str(journal))
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def frame(body: object) -> bytes:
    data = json.dumps(body).encode()
    return struct.pack(">I", len(data)) + data


def ask(journal: Path, data: bytes) -> dict[str, Any]:
    """Send raw bytes on a fresh connection; the one answer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(20)
    sock.connect(str(ServiceAddress.of(journal).socket))
    try:
        sock.sendall(data)
        header = sock.recv(4, socket.MSG_WAITALL)
        assert len(header) == 4, "the service hung up without an answer"
        (length,) = struct.unpack(">I", header)
        body = b""
        while len(body) < length:
            chunk = sock.recv(length - len(body))
            assert chunk, "the answer was cut"
            body += chunk
        return json.loads(body)  # type: ignore[no-any-return]
    finally:
        sock.close()


def kinds(journal: Path) -> list[str]:
    with JournalReader(journal) as reader:
        return [e.kind for e in reader.events()]


# -- item 1: every operation's arguments and every payload, against its schema -----------------
STEP = {"step": "freeze", "by": "lena"}
SCHEMA_INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("start_step", {"step": 7, "by": "lena"}, "'step' must be a string"),
    ("complete_step", {**STEP, "confirmed": ["x"]}, "'confirmed' must be a string"),
    ("fail_step", {**STEP, "reason": {"a": 1}}, "'reason' must be a string"),
    ("skip_step", {"by": "lena"}, "needs 'step'"),
    ("reopen_step", {**STEP, "reason": True}, "'reason' must be a string"),
    ("rollback_step", {**STEP, "override": 1.5}, "'override' must be a string"),
    ("signoff", {**STEP, "role": ["lead"]}, "'role' must be a string"),
    ("signoff", {**STEP, "signature": {"sshsig": 1}}, "'signature' must be a string"),
    ("signoff_statement", {**STEP, "role": 3}, "'role' must be a string"),
    ("comms_send", {"by": "lena", "test": "yes"}, "'test' must be"),
    ("comms_ack", {"message": "m", "by": "lena"}, "needs 'target'"),
    ("comms_step_preview", {"step": 7}, "'step' must be a string"),
    ("note", {"text": "x", "by": None}, "needs 'by'"),
    ("override_gate", {**STEP, "gate": "g"}, "needs 'reason'"),
    ("check_action", {**STEP, "extra": 1}, "takes no argument 'extra'"),
    ("record_action", {**STEP, "result": "exit 0"}, "'result' must be a JSON object"),
    ("record_action", {**STEP, "result": {"exit": 0}}, "has no 'kind'"),
    ("record_action", {**STEP, "result": {"kind": "command", "by": "mallory"}}, "sets 'by'"),
    ("record_action", {**STEP, "result": {"kind": "command", "seq": 1}}, "sets 'seq'"),
    ("record_action", {**STEP, "result": {"kind": "command", "exit": "0"}}, "'exit' is not"),
    ("revise", {"plan_text": "x", "by": "lena"}, "needs 'plan_file'"),
    (
        "record_watcher",
        {"connected": False, "viewer": {"at": "not-a-time", "seq": "x"}},
        "sets '",
    ),
    ("record_watcher", {"connected": True, "viewer": {"comment": 5}}, "'comment' is not"),
    (
        "record_watcher",
        {"connected": False, "viewer": {"duration_s": "long"}},
        "'duration_s' is not",
    ),
    ("status", {"x": 1}, "takes no argument"),
    ("stop", {"now": True}, "takes no argument"),
]


def test_schema_invalid_requests_for_every_op_are_refused_with_a_sentence(service: Path) -> None:
    from cutover_console.service.protocol import OPERATIONS

    assert {op for op, _, _ in SCHEMA_INVALID} == set(OPERATIONS)  # every op has a case
    pid = service_pid(service)
    for op, args, says in SCHEMA_INVALID:
        answer = ask(service, frame({"op": op, "args": args}))
        assert answer["ok"] is False, (op, args, answer)
        assert answer["error"]["type"] == "bad_request", answer
        assert says in answer["error"]["message"], (op, answer)
        assert alive(pid)
    assert kinds(service) == ["journal.created"]  # nothing journaled
    # the issue's example: the report stays whole because the record never got in
    out = service.parent / "r.md"
    report = run_cli("report", "-j", str(service), "-o", str(out))
    assert report.returncode == 0, report.stderr


# -- item 2: lone surrogates (and bytes that are not UTF-8) in ids ------------------------------
def raw_frame(text: str) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    return struct.pack(">I", len(data)) + data


SURROGATES = [
    ('{"op":"start_step","args":{"step":"\\ud800","by":"lena"}}', "'step' holds a lone surrogate"),
    ('{"op":"signoff","args":{"step":"freeze","by":"\\udfff"}}', "'by' holds a lone surrogate"),
    ('{"op":"note","args":{"text":"a \\ud800 b","by":"lena"}}', "'text' holds a lone surrogate"),
    (
        '{"op":"override_gate","args":{"step":"freeze","gate":"\\ud83d","by":"lena","reason":"r"}}',
        "'gate' holds a lone surrogate",
    ),
    (
        '{"op":"record_watcher","args":{"connected":true,"viewer":{"comment":"\\ud800"}}}',
        "'viewer' holds a lone surrogate",
    ),
    ('{"op":"note","args":{"text":"t","by":"lena"},"idem":"\\udc80"}', "idempotency key"),
]


@pytest.mark.parametrize(("body", "says"), SURROGATES)
def test_lone_surrogates_in_ids_get_an_answer(service: Path, body: str, says: str) -> None:
    answer = ask(service, raw_frame(body))
    assert answer["ok"] is False and says in answer["error"]["message"], answer
    assert kinds(service) == ["journal.created"]


def test_ids_that_are_not_utf8_from_the_cli_get_a_sentence(service: Path) -> None:
    """argv bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape)."""
    import subprocess
    import sys

    for args in (
        [b"step", b"start", b"fr\xffeeze", b"--by", b"lena"],
        [b"note", b"hello", b"--by", b"le\xedna"],
    ):
        result = subprocess.run(
            [sys.executable.encode(), b"-m", b"cutover_console", *args, b"-j", bytes(service)],
            capture_output=True,
            timeout=60,
        )
        err = result.stderr.decode("utf-8", "replace")
        assert result.returncode == 2 and "lone surrogate" in err, err
        assert "Traceback" not in err
    assert kinds(service) == ["journal.created"]


def test_a_direct_write_refuses_a_surrogate_id_with_a_sentence(tmp_path: Path) -> None:
    """No service: the same refusal from the rules, quoted through the text boundary."""
    import subprocess
    import sys

    journal = new_journal(tmp_path)
    result = subprocess.run(
        [sys.executable.encode(), b"-m", b"cutover_console", b"step", b"start", b"fr\xffeeze",
         b"--by", b"lena", b"-j", bytes(journal)],
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode in (1, 2) and "Traceback" not in err, err
    assert "fr\ufffdeeze" in err or "lone surrogate" in err, err


# -- item 3: a refusal quoting a huge id still fits in a frame -----------------------------------
@pytest.mark.parametrize("op", ["start_step", "signoff", "override_gate", "note"])
def test_a_refusal_quoting_a_4_mb_id_is_answered_and_cut(service: Path, op: str) -> None:
    huge = "s" * (4 * 1024 * 1024)
    args: dict[str, Any] = {
        "start_step": {"step": huge, "by": "lena"},
        "signoff": {"step": "freeze", "by": huge},
        "override_gate": {"step": "freeze", "gate": huge, "by": "lena", "reason": "r"},
        "note": {"text": "t", "by": huge, "step": "freeze"},
    }[op]
    answer = ask(service, frame({"op": op, "args": args}))
    assert answer["ok"] is False, answer
    message = answer["error"]["message"]
    assert len(json.dumps(answer)) < 100_000, len(json.dumps(answer))
    assert "s…'" in message, message[:300]  # quoted, cut, with the mark
    assert kinds(service) == ["journal.created"]


def test_rules_quote_outside_ids_through_the_text_boundary() -> None:
    """The class, beyond the socket: every refusal that quotes an id someone typed."""
    from cutover_console.runbook import ActionRefused
    from cutover_console.runbook.rules import Refusal

    refused = ActionRefused("start", "\x1b[2J" + "x" * 10_000, [Refusal("step", "no")])
    assert "\x1b" not in str(refused) and len(str(refused)) < 200


# -- item 8: a direct write names the real account, whatever the environment says ---------------
def test_direct_writes_record_the_real_account_not_user(tmp_path: Path) -> None:
    import pwd

    me = pwd.getpwuid(os.getuid()).pw_name
    spoof = {"USER": "mallory", "LOGNAME": "mallory", "LNAME": "mallory", "USERNAME": "mallory"}
    journal = tmp_path / "j.sqlite"
    created = run_cli("init", str(SMALL), "-j", str(journal), "--by", "lena", env=spoof)
    assert created.returncode == 0, created.stderr
    assert not ServiceAddress.of(journal).exists()  # no service: these are direct writes
    for args in (
        ("note", "by hand", "--by", "lena"),
        ("step", "start", "freeze", "--by", "omar"),
    ):
        result = run_cli(*args, "-j", str(journal), env=spoof)
        assert result.returncode == 0, result.stderr
    with JournalReader(journal) as reader:
        users = {e.os_user for e in reader.events()}
    assert users == {me}, users


# -- item 6: racing `cutover service start` ------------------------------------------------------
def test_racing_starts_one_wins_the_others_name_it_and_nobody_touches_its_log(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    journal = new_journal(tmp_path)
    command = [sys.executable, "-m", "cutover_console", "service", "start", "-j", str(journal)]
    for _round in range(3):
        racers = [
            subprocess.Popen(
                [*command, "--no-engines"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outs = [(p.wait(60), *p.communicate()) for p in racers]
        for code, out, err in outs:
            assert code == 0 and "Traceback" not in err, (code, out, err)
        started = [out for _code, out, _err in outs if "started (pid" in out]
        assert len(started) == 1, outs
        pid = service_pid(journal)
        assert f"(pid {pid})" in started[0]
        others = [out for _code, out, _err in outs if "started (pid" not in out]
        assert all(f"already runs (pid {pid})" in out for out in others), outs
        assert alive(pid)
        log_is_clean(journal)  # nobody wrote a loser's error into the winner's log
        stopped = run_cli("service", "stop", "-j", str(journal))
        assert stopped.returncode == 0 and f"(pid {pid}) stopped" in stopped.stdout, stopped
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not alive(pid)
    # after the last stop, nothing of a loser took the journal later
    time.sleep(0.5)
    note = run_cli("note", "after the races", "-j", str(journal), "--by", "lena")
    assert note.returncode == 0, note.stderr
    assert not ServiceAddress.of(journal).exists()


# -- item 7: another local user squats the names the service would use ---------------------------
def as_user(uid: int, gid: int, work: Any) -> None:
    """Run `work()` in a forked child under another account; raise if it failed."""
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        code = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            work()
            code = 0
        finally:
            os._exit(code)
    _pid, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.fixture
def squatter() -> Iterator[Any]:
    """A second real account, created for the test and removed after it (CI runs as root)."""
    import pwd
    import shutil
    import subprocess

    from support import in_ci

    if os.getuid() != 0 or shutil.which("useradd") is None:
        if in_ci():
            pytest.fail("creating a second user needs root and useradd under CI")
        pytest.skip("needs root and useradd to create a second user")
    name = f"cosquat{os.getpid() % 100000}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


def test_a_squatted_runtime_directory_never_decides_whether_the_service_starts(
    tmp_path: Path, squatter: Any
) -> None:
    import shutil
    import tempfile

    me = os.getuid()
    shared = Path(tempfile.mkdtemp(prefix="cutover-shared-", dir="/tmp"))
    try:
        os.chmod(shared, 0o1777)  # like /tmp: anyone may create, nobody may remove others'
        journal = shared / "j.sqlite"

        def squat() -> None:
            for name in (f"cutover-{me}", "j.sqlite.service", "xdg", "config/cutover-console"):
                (shared / name).mkdir(mode=0o777, parents=True)
                os.chmod(shared / name, 0o777)

        as_user(squatter.pw_uid, squatter.pw_gid, squat)
        env = {
            "TMPDIR": str(shared),
            "XDG_RUNTIME_DIR": str(shared / "xdg"),  # another user's: as if unset
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        }
        created = run_cli("init", str(SMALL), "-j", str(journal), "--by", "lena", env=env)
        assert created.returncode == 0, created.stderr
        started = run_cli("service", "start", "-j", str(journal), "--no-engines", env=env)
        assert started.returncode == 0 and "started (pid" in started.stdout, started.stderr
        try:
            for args in (("note", "squatted", "--by", "lena"), ("service", "status")):
                result = run_cli(*args, "-j", str(journal), env=env)
                assert result.returncode == 0, (args, result.stderr)
        finally:
            stopped = run_cli("service", "stop", "-j", str(journal), env=env)
        assert stopped.returncode == 0, stopped.stderr
        with JournalReader(journal) as reader:
            assert [e.kind for e in reader.events()][-1] == "note.added"
        used = [p for p in shared.iterdir() if p.name.startswith(f"cutover-{me}-")]
        assert len(used) == 1 and used[0].stat().st_uid == me  # the unguessable name, ours
        assert (shared / "j.sqlite.service").stat().st_uid == squatter.pw_uid  # never used

        # the key's folder squatted too: no directory this user can trust, said in a sentence
        env["XDG_CONFIG_HOME"] = str(shared / "config")
        for args in (("service", "start", "--no-engines"), ("note", "x", "--by", "lena")):
            result = run_cli(*args, "-j", str(journal), env=env)
            assert result.returncode == 2, (args, result.stdout, result.stderr)
            assert "Traceback" not in result.stderr
            assert "belongs to uid" in result.stderr or "open to other users" in result.stderr
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# -- item 5: a connect flood beside legitimate notes ----------------------------------------------
FLOOD = """
import socket, sys, time
path, until = sys.argv[1], time.monotonic() + float(sys.argv[2])
while time.monotonic() < until:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
    except OSError:
        pass
    s.close()
"""


def test_notes_go_through_a_connect_flood(service: Path) -> None:
    import subprocess
    import sys

    path = str(ServiceAddress.of(service).socket)
    flooders = [subprocess.Popen([sys.executable, "-c", FLOOD, path, "12"]) for _ in range(3)]
    try:
        time.sleep(0.5)
        notes = [
            subprocess.Popen(
                [sys.executable, "-m", "cutover_console", "note", f"during the flood {i}",
                 "-j", str(service), "--by", "lena"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for i in range(6)
        ]  # fmt: skip
        for note in notes:
            _out, err = note.communicate(timeout=60)
            assert note.returncode == 0, err
    finally:
        for flooder in flooders:
            flooder.kill()
            flooder.wait()
    assert kinds(service).count("note.added") == 6


def test_a_full_backlog_is_waited_out_not_taken_for_an_error(service: Path) -> None:
    """The service stopped (SIGSTOP) while a flood fills its whole backlog: a note started then
    meets EAGAIN, retries, and goes through once the service accepts again."""
    import subprocess
    import sys

    pid = service_pid(service)
    path = str(ServiceAddress.of(service).socket)
    held: list[socket.socket] = []
    os.kill(pid, signal.SIGSTOP)
    try:
        while True:  # fill the backlog until the kernel turns connections away
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(path)
            except BlockingIOError:
                s.close()
                break
            held.append(s)
            assert len(held) < 100_000
        note = subprocess.Popen(
            [sys.executable, "-m", "cutover_console", "note", "after the backlog", "-j",
             str(service), "--by", "lena"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1.5)  # it is retrying by now
        for s in held:
            s.close()
    finally:
        os.kill(pid, signal.SIGCONT)
    out, err = note.communicate(timeout=60)
    assert note.returncode == 0, err
    assert "note added" in out


# -- item 4: memory for incomplete frames, bounded in total and given back ------------------------
def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def stall_near_maximal_frames(path: str, peers: int, stop: Any) -> list[Any]:
    """`peers` connections that each declare an 8 MiB frame, send all of it but one byte, and
    stall until `stop` is set; the threads that hold them."""
    import threading

    from cutover_console.service.protocol import MAX_FRAME

    body = struct.pack(">I", MAX_FRAME) + b"x" * (MAX_FRAME - 1)

    def peer() -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            with contextlib.suppress(OSError):  # refused and hung up on: still holds the socket
                s.sendall(body)
            stop.wait(120)
        finally:
            s.close()

    threads = [threading.Thread(target=peer, daemon=True) for _ in range(peers)]
    for thread in threads:
        thread.start()
    return threads


def test_stalled_near_maximal_frames_cost_a_bounded_memory_given_back(service: Path) -> None:
    import threading

    pid = service_pid(service)
    start = rss_kib(pid)
    stop = threading.Event()
    threads = stall_near_maximal_frames(str(ServiceAddress.of(service).socket), 64, stop)
    time.sleep(4)  # every peer has sent what it will send
    with_them = rss_kib(pid)
    # the service still answers everyone else meanwhile
    note = run_cli("note", "during the stall", "-j", str(service), "--by", "lena")
    assert note.returncode == 0, note.stderr
    stop.set()
    for thread in threads:
        thread.join(30)
    peak = rss_kib(pid, "VmHWM")
    deadline = time.monotonic() + 20
    after = rss_kib(pid)
    while after > start + 20 * 1024 and time.monotonic() < deadline:
        time.sleep(0.5)
        after = rss_kib(pid)
    assert peak <= 150 * 1024, (start, with_them, peak)  # it was 557 MiB with 64 peers
    assert after <= start + 20 * 1024, (start, peak, after)  # it stayed at 565 MiB
    assert alive(pid)
