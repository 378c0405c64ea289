"""Remote signing through `cutover serve` with stock OpenSSH only (issue 23): `statement` and
`signoff` are the only two commands, authorized only for keys the plan lists for the signing
person (a watcher's key in authorized_keys does not authorize them); everything else stays
refused for a signing key; `cutover signoff --remote` wraps the three commands."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import free_port, wait_port
from signing import NAMESPACE, Key, keygen, signed_plan
from support import ROOT, require_binary, run_cli

pytestmark = pytest.mark.filterwarnings("ignore:DSA is deprecated")


@dataclass
class Signing:
    root: Path
    journal: Path
    port: int
    proc: subprocess.Popen[bytes]
    keys: dict[str, Key]
    watcher: Path

    def ssh(self, key: Path, *args: str, tty: bool = False) -> list[str]:
        return [
            "ssh",
            "-i",
            str(key),
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
            *(["-tt"] if tty else ["-T"]),
            "127.0.0.1",
            *args,
        ]

    def run(self, key: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(self.ssh(key, *args), input=stdin, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signing]:
    require_binary("ssh")
    root = tmp_path_factory.mktemp("sign-serve")
    keys = {
        "cleo": keygen(root / "k", "cleo"),
        "lena": keygen(root / "k", "lena", "rsa"),
        "nia": keygen(root / "k", "nia"),
    }
    watcher = keygen(root / "k", "raj")  # a watcher: authorized_keys only
    (root / "authorized_keys").write_text(watcher.public.read_text())
    plan = signed_plan(root, keys)
    journal = root / "j.sqlite"
    assert run_cli("init", str(plan), "--journal", str(journal), "--by", "lena").returncode == 0
    started = run_cli(
        "step", "start", "go", "--journal", str(journal), "--by", "nia", "--override", "test"
    )
    assert started.returncode == 0, started.stderr
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
            "--viewers",
            "spawn",
            "--connection-burst",  # every test here connects from 127.0.0.1, in quick bursts
            "100",
        ],
        stdout=(root / "serve.log").open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    wait_port("127.0.0.1", port)
    scan = subprocess.run(
        ["ssh-keyscan", "-p", str(port), "127.0.0.1"], capture_output=True, text=True
    )
    (root / "known").write_text(scan.stdout)
    try:
        yield Signing(root, journal, port, proc, keys, watcher.private)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def signed_events(journal: Path) -> list[tuple[str, dict]]:
    with sqlite3.connect(journal) as db:
        rows = db.execute(
            "SELECT actor, payload FROM events WHERE kind = 'step.signed_off' ORDER BY seq"
        ).fetchall()
    return [(actor, json.loads(p)) for actor, p in rows]


def test_the_three_stock_commands_sign_off(signing: Signing) -> None:
    start = time.monotonic()
    statement = signing.run(signing.keys["cleo"].private, "statement", "go")
    assert statement.returncode == 0, statement.stderr
    (signing.root / "s.txt").write_bytes(statement.stdout)
    subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "sign",
            "-n",
            NAMESPACE,
            "-f",
            str(signing.keys["cleo"].private),
            str(signing.root / "s.txt"),
        ],
        check=True,
        capture_output=True,
    )
    sig = (signing.root / "s.txt.sig").read_bytes()
    done = signing.run(signing.keys["cleo"].private, "signoff", "go", stdin=sig)
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    assert b"signed off by cleo" in done.stdout and b"SHA256:" in done.stdout
    [(_, payload)] = [e for e in signed_events(signing.journal) if e[0] == "cleo"]
    assert payload["signed"]["statement"] == statement.stdout.decode()
    print(f"remote signing, three stock commands: {elapsed:.2f} s")
    # the same signature again: a replay, refused with the reason, nothing journaled
    again = signing.run(signing.keys["cleo"].private, "signoff", "go", stdin=sig)
    assert again.returncode == 1
    assert b"no statement was issued here" in again.stderr or b"already signed" in again.stderr


def test_a_watchers_key_does_not_authorize_signing(signing: Signing) -> None:
    refused = signing.run(signing.watcher, "statement", "go")
    assert refused.returncode != 0
    assert b"signing is for keys the plan lists for a person" in refused.stderr


def test_a_signing_key_gets_nothing_else(signing: Signing) -> None:
    key = signing.keys["nia"].private
    other = signing.run(key, "cat", "/etc/passwd")
    assert other.returncode != 0 and b"commands are not served here" in other.stderr
    bad = signing.run(key, "statement", "go;id")
    assert bad.returncode != 0 and b"not a signing command" in bad.stderr
    sftp = subprocess.run(
        [
            "sftp",
            "-i",
            str(key),
            "-o",
            f"UserKnownHostsFile={signing.root}/known",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-P",
            str(signing.port),
            "127.0.0.1",
        ],
        input=b"ls\n",
        capture_output=True,
        timeout=30,
    )
    assert sftp.returncode != 0
    watch = subprocess.run(signing.ssh(key, tty=True), capture_output=True, timeout=30, input=b"")
    assert watch.returncode != 0 and b"not watch" in watch.stdout + watch.stderr
    remote = subprocess.run(
        [
            *signing.ssh(key)[:-1],
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-R",
            f"{free_port()}:127.0.0.1:22",
            "127.0.0.1",
        ],
        capture_output=True,
        timeout=30,
    )
    assert remote.returncode == 255 and b"forwarding failed" in remote.stderr.lower()
    listen = free_port()
    tunnel = subprocess.Popen(
        [*signing.ssh(key)[:-1], "-N", "-L", f"{listen}:127.0.0.1:{signing.port}", "127.0.0.1"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port("127.0.0.1", listen)
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
            s.settimeout(5)
            try:
                data = s.recv(64)  # a refused channel is closed without a byte
            except (ConnectionResetError, TimeoutError):
                data = b""
        assert not data.startswith(b"SSH-")
    finally:
        tunnel.kill()
        tunnel.communicate(timeout=5)
    # a person's own statement only: nia (who ran go) gets one for herself, refused by the rules
    own = signing.run(key, "statement", "go")
    assert own.returncode == 1 and b"nia" in own.stderr


def test_cutover_signoff_remote_wraps_the_three(signing: Signing) -> None:
    env = {
        "CUTOVER_SSH": f"ssh -o UserKnownHostsFile={signing.root}/known "
        "-o StrictHostKeyChecking=yes"
    }
    done = run_cli(
        "signoff",
        "go",
        "--by",
        "lena",
        "--remote",
        f"127.0.0.1:{signing.port}",
        "--sign-with",
        str(signing.keys["lena"].private),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "signed off by lena as lead" in done.stdout
    assert [a for a, _ in signed_events(signing.journal)][-1] == "lena"
    verified = run_cli("verify", str(signing.journal))
    assert verified.returncode == 0, verified.stderr


def test_hostile_commands_come_back_inert(signing: Signing) -> None:
    from hostile import CORPUS, forbidden_in

    key = signing.keys["cleo"].private
    for name, (hostile, shown) in CORPUS.items():
        if name in ("html", "c1-csi"):  # c1: not valid UTF-8 on the wire; html: inert on a tty
            continue
        said = signing.run(key, f"statement {hostile}")
        assert said.returncode == 1, name
        err = said.stderr.decode("utf-8", "replace")
        assert forbidden_in(err) == [], (name, err)
        assert "not a signing command" in err and shown[:12] in err, (name, err)


def test_through_a_running_journal_service(signing: Signing) -> None:
    """With the journal's service running (as under `cutover run`), the serve process hands the
    statement and the signature to it: the service issues and checks, then journals."""
    started = run_cli("service", "start", "-j", str(signing.journal), "--no-engines")
    assert started.returncode == 0, started.stderr
    try:
        run = run_cli(
            "step",
            "start",
            "backup",
            "-j",
            str(signing.journal),
            "--by",
            "lena",
            "--override",
            "test",
        )
        assert run.returncode == 0, run.stderr
        key = signing.keys["lena"].private
        statement = signing.run(key, "statement", "backup")
        assert statement.returncode == 0, statement.stderr
        (signing.root / "b.txt").write_bytes(statement.stdout)
        subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "sign",
                "-n",
                NAMESPACE,
                "-f",
                str(key),
                str(signing.root / "b.txt"),
            ],
            check=True,
            capture_output=True,
        )
        done = signing.run(
            key, "signoff", "backup", stdin=(signing.root / "b.txt.sig").read_bytes()
        )
        # lena started backup: her own key cannot approve it, and the service says so
        assert done.returncode == 1
        assert b"self-approval" in done.stderr, done.stderr
        # and one that holds: nia signs dns-switch, which lena started, with the wrapper
        run = run_cli(
            "step",
            "start",
            "dns-switch",
            "-j",
            str(signing.journal),
            "--by",
            "lena",
            "--override",
            "test",
        )
        assert run.returncode == 0, run.stderr
        env = {
            "CUTOVER_SSH": f"ssh -o UserKnownHostsFile={signing.root}/known "
            "-o StrictHostKeyChecking=yes"
        }
        signed = run_cli(
            "signoff",
            "dns-switch",
            "--by",
            "nia",
            "--remote",
            f"127.0.0.1:{signing.port}",
            "--sign-with",
            str(signing.keys["nia"].private),
            env=env,
        )
        assert signed.returncode == 0, signed.stderr
        assert [a for a, _ in signed_events(signing.journal)][-1] == "nia"
    finally:
        stopped = run_cli("service", "stop", "-j", str(signing.journal))
        assert stopped.returncode == 0, stopped.stderr
