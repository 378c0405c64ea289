"""Signed sign-offs (issue 23). Targets: remote signing end to end (the three stock OpenSSH
commands against `cutover serve` on loopback) <= 2 s; `cutover verify` of a journal with 1,000
signed sign-offs <= 1.5x the same journal with unsigned sign-offs, measured side by side
(interleaved runs, medians).

    python benchmarks/signed_signoffs.py [RUNS]
"""

from __future__ import annotations

import base64
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncssh

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from servers import free_port, wait_port

from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan
from cutover_console.signoffs import NAMESPACE, sshsig
from cutover_console.signoffs.statement import Statement

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "plans" / "small.yaml"
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
SIGNOFFS = 1000


def keygen(folder: Path, name: str) -> Path:
    key = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def plan_with(folder: Path, cleo_pub: str, steps: int) -> Path:
    text = SMALL.read_text()
    text = text.replace(
        "{id: cleo, name: Cleo Martin, roles: [client-observer]}",
        f'{{id: cleo, name: Cleo Martin, roles: [client-observer], keys: ["{cleo_pub}"]}}',
    )
    extra = "".join(
        f"  - id: go{i}\n    title: Go {i}\n    phase: sunday\n    owner: network\n"
        "    duration: 5m\n    signoff: {roles: [client-observer], count: 1}\n"
        for i in range(steps)
    )
    text = text.replace("\ndns:\n", "\n" + extra + "dns:\n", 1)
    path = folder / "plan.yaml"
    path.write_text(text)
    return path


def journal(folder: Path, name: str, plan: Path, key: asyncssh.SSHKey | None) -> Path:
    """SIGNOFFS sign-offs by cleo (each a start, a sign-off, a completion), signed or not."""
    document = load_plan(plan)
    path = folder / f"{name}.sqlite"
    writer = JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor("lena", "bench"),
        cutover_id=document.plan.cutover.id,
        plan_keys=document.keys,
    )
    writer.conn.execute("PRAGMA synchronous = OFF")
    first = writer.head()
    assert first is not None
    journal_id = next(iter(writer_events(path)))
    for i in range(SIGNOFFS):
        step = f"go{i}"
        writer.append("step.started", {}, actor=Actor("nia", "bench"), step=step)
        payload: dict = {"role": "client-observer", "evidence": {}}
        if key is not None:
            head = writer.head()
            assert head is not None
            statement = Statement(
                "small-cutover",
                journal_id,
                step,
                "client-observer",
                "cleo",
                "0" * 64,
                head.seq,
                head.hash,
                "0" * 48,
                "2026-12-06T12:00:00Z",
            ).text()
            payload["signed"] = {
                "statement": statement,
                "sshsig": base64.b64encode(
                    sshsig.unarmor(sshsig.sign(key, statement.encode(), NAMESPACE))
                ).decode(),
                "key": key.get_fingerprint(),
                "nonce": "0" * 48,
            }
        writer.append("step.signed_off", payload, actor=Actor("cleo", "bench"), step=step)
        writer.append("step.completed", {}, actor=Actor("nia", "bench"), step=step)
    writer.close()
    return path


def writer_events(path: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(path) as db:
        return [h for (h,) in db.execute("SELECT hash FROM events ORDER BY seq LIMIT 1")]


def cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "cutover_console", *args], capture_output=True, input=stdin
    )


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cleo = keygen(folder, "cleo")
        pub = " ".join(Path(f"{cleo}.pub").read_text().split()[:2])
        plan = plan_with(folder, pub, SIGNOFFS)
        key = asyncssh.read_private_key(str(cleo))
        signed = journal(folder, "signed", plan, key)
        plain = journal(folder, "plain", plan, None)
        assert b"1000 signed sign-off(s)" in cli("verify", str(signed)).stdout
        a, b = [], []
        for _ in range(RUNS):  # interleaved, so that load on the machine hits both alike
            a.append(timed(lambda: cli("verify", str(plain))))
            b.append(timed(lambda: cli("verify", str(signed))))
        ma, mb = statistics.median(a), statistics.median(b)
        print(
            f"| cutover verify, {SIGNOFFS} unsigned sign-offs ({3 * SIGNOFFS + 1} events) | "
            f"{ma:.2f} s | runs {', '.join(f'{x:.2f}' for x in a)} |"
        )
        print(
            f"| cutover verify, {SIGNOFFS} signed sign-offs | {mb:.2f} s "
            f"({mb / ma:.2f}x) | runs {', '.join(f'{x:.2f}' for x in b)} |"
        )
        floor = statistics.median(timed(lambda: crypto_only(signed)) for _ in range(RUNS))
        print(
            f"| of which the {SIGNOFFS} ed25519 verifications alone (cryptography, in process) | "
            f"{floor:.2f} s | the floor: {floor / ma:.2f}x of the unsigned run |"
        )
        remote(folder, cleo)


def crypto_only(path: Path) -> None:
    """Just the signature checks `cutover verify` cannot skip, on the journal's own data."""
    import json
    import sqlite3

    from cryptography.hazmat.primitives.asymmetric import ed25519

    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT payload FROM events WHERE kind = 'step.signed_off'").fetchall()
    for (payload,) in rows:
        signed = json.loads(payload)["signed"]
        sig = sshsig.parse_blob(base64.b64decode(signed["sshsig"]))
        data = sshsig.signed_data(signed["statement"].encode(), NAMESPACE, sig.hash_algorithm)
        key = ed25519.Ed25519PublicKey.from_public_bytes(sig.key.blob[-32:])
        key.verify(sig.signature[-64:], data)


def remote(folder: Path, cleo: Path) -> None:
    """The three stock commands, RUNS times, each on its own step."""
    pub = " ".join(Path(f"{cleo}.pub").read_text().split()[:2])
    plan = plan_with(folder, pub, RUNS)
    path = folder / "served.sqlite"
    assert cli("init", str(plan), "--journal", str(path), "--by", "lena").returncode == 0
    for i in range(RUNS):
        started = cli("step", "start", f"go{i}", "-j", str(path), "--by", "nia")
        assert started.returncode == 0, started.stderr
    watcher = keygen(folder, "raj")
    (folder / "authorized_keys").write_text(Path(f"{watcher}.pub").read_text())
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cutover_console",
            "serve",
            "--journal",
            str(path),
            "--port",
            str(port),
            "--authorized-keys",
            str(folder / "authorized_keys"),
            "--host-key",
            str(folder / "host_key"),
            "--viewers",
            "spawn",
            "--connection-burst",  # two connections a run, back to back from one address
            "100",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_port("127.0.0.1", port)
        scan = subprocess.run(["ssh-keyscan", "-p", str(port), "127.0.0.1"], capture_output=True)
        (folder / "known").write_bytes(scan.stdout)
        ssh = [
            "ssh",
            "-i",
            str(cleo),
            "-o",
            f"UserKnownHostsFile={folder}/known",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-p",
            str(port),
            "-T",
            "127.0.0.1",
        ]
        samples = []
        for i in range(RUNS):
            s = folder / f"s{i}.txt"
            start = time.perf_counter()
            s.write_bytes(
                subprocess.run(
                    [*ssh, "statement", f"go{i}"], check=True, capture_output=True
                ).stdout
            )
            subprocess.run(
                ["ssh-keygen", "-Y", "sign", "-n", NAMESPACE, "-f", str(cleo), str(s)],
                check=True,
                capture_output=True,
            )
            done = subprocess.run(
                [*ssh, "signoff", f"go{i}"],
                input=Path(f"{s}.sig").read_bytes(),
                capture_output=True,
            )
            samples.append(time.perf_counter() - start)
            assert done.returncode == 0 and re.search(rb"signed off by cleo", done.stdout), (
                done.stderr
            )
        print(
            "| remote signing, 3 stock commands on loopback | "
            f"{statistics.median(samples):.2f} s | "
            f"runs {', '.join(f'{x:.2f}' for x in samples)} |"
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
