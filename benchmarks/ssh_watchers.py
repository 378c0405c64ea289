"""20 concurrent watchers over SSH (the real OpenSSH client, `cutover serve` on loopback) while the
lead journals one event a second.

- connect -> first full frame (the cutover's name drawn), per watcher
- a new event (the journal head in the clock bar) seen by every watcher: p95 delay
- memory per watcher process (RSS and unique), total CPU of all watchers at one event a second
Targets (issue 6): p95 <= 2 s; <= 60 MiB RSS each; <= 50 % of one core in total; first frame <= 1 s.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from servers import free_port, wait_port
from support import ROOT, SMALL

from cutover_console.journal import Actor, JournalWriter

WATCHERS, EVENTS = 20, 20


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def memory(pid: int) -> tuple[float, float]:
    rss = uss = 0.0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == "Rss":
            rss = int(rest.split()[0]) / 1024
        elif name in ("Private_Clean", "Private_Dirty"):
            uss += int(rest.split()[0]) / 1024
    return rss, uss


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


class Client:
    def __init__(self, argv: list[str]) -> None:
        self.start = time.monotonic()
        # A terminal of its own (160x45), as a teammate's laptop has: ssh asks for that size.
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 160, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.buffer = b""
        self.first_frame: float | None = None
        self.seen: dict[str, float] = {}
        self.wanted: list[str] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        fd = self.master
        while True:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                if self.proc.poll() is not None:
                    return
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            now = time.monotonic()
            with self.lock:
                self.buffer = (self.buffer + data)[-200_000:]
                if self.first_frame is None and b"Small test cutover" in self.buffer:
                    self.first_frame = now - self.start
                for mark in self.wanted:
                    if mark not in self.seen and mark.encode() in self.buffer:
                        self.seen[mark] = now


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", str(root / "key")],
            check=True,
        )
        (root / "authorized_keys").write_text((root / "key.pub").read_text())
        document_text = SMALL.read_text()
        from cutover_console.plan import load_plan_text

        document = load_plan_text(document_text, "small.yaml")
        journal = root / "j.sqlite"
        JournalWriter.create(
            journal,
            document.text,
            document.sha256,
            "small.yaml",
            Actor("lena", "bench"),
            cutover_id="small-cutover",
        ).close()
        port = free_port()
        server = subprocess.Popen(
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
                "--max-per-key",
                "50",
            ],
            stdout=(root / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        wait_port("127.0.0.1", port)
        known = subprocess.run(
            ["ssh-keyscan", "-p", str(port), "127.0.0.1"], capture_output=True, text=True
        ).stdout
        (root / "known").write_text(known)
        argv = [
            "ssh",
            "-t",
            "-i",
            str(root / "key"),
            "-o",
            f"UserKnownHostsFile={root}/known",
            "-o",
            "BatchMode=yes",
            "-p",
            str(port),
            "127.0.0.1",
        ]
        try:
            alone = []
            for _ in range(3):  # one teammate connecting to an idle server
                client = Client(argv)
                deadline = time.monotonic() + 30
                while client.first_frame is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                alone.append(client.first_frame or float("inf"))
                client.proc.kill()
                time.sleep(1.0)
            clients = []
            for _ in range(WATCHERS):
                clients.append(Client(argv))
                time.sleep(0.3)  # teammates do not all arrive in the same instant
            deadline = time.monotonic() + 60
            while any(c.first_frame is None for c in clients) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(3)
            viewers = children(server.pid)
            mem = [memory(pid) for pid in viewers]
            cpu0, wall0 = cpu_seconds(viewers), time.monotonic()
            delays: list[float] = []
            sent: dict[str, float] = {}
            for i in range(EVENTS):
                writer = JournalWriter.open(journal)
                event = writer.append(
                    "note.added", {"text": f"tick {i}"}, actor=Actor("lena", "bench")
                )
                writer.close()
                mark = f"{event.seq}:{event.hash[:12]}"
                sent[mark] = time.monotonic()
                for c in clients:
                    with c.lock:
                        c.wanted.append(mark)
                time.sleep(1.0)
            time.sleep(3)
            cpu = (cpu_seconds(viewers) - cpu0) / (time.monotonic() - wall0)
            missed = 0
            for c in clients:
                for mark, at in sent.items():
                    if mark in c.seen:
                        delays.append(c.seen[mark] - at)
                    else:
                        missed += 1
        finally:
            for c in clients:
                c.proc.kill()
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
    frames = [c.first_frame for c in clients if c.first_frame is not None]
    print(f"{WATCHERS} watchers over ssh, one event a second for {EVENTS} s")
    print(
        f"  connect -> first frame, alone: median {statistics.median(alone):.2f} s of 3 "
        f"(target <= 1 s); while {WATCHERS} arrive 0.3 s apart: median "
        f"{statistics.median(frames):.2f} s, max {max(frames):.2f} s"
    )
    print(
        f"  new event seen: median {statistics.median(delays):.2f} s, p95 "
        f"{statistics.quantiles(delays, n=20)[18]:.2f} s, max {max(delays):.2f} s; "
        f"{missed} of {WATCHERS * EVENTS} not seen (target p95 <= 2 s)"
    )
    print(
        f"  memory per watcher: RSS median {statistics.median(m[0] for m in mem):.1f} MiB, "
        f"max {max(m[0] for m in mem):.1f} MiB; unique median "
        f"{statistics.median(m[1] for m in mem):.0f} MiB (target <= 60 MiB RSS)"
    )
    print(
        f"  CPU of all {len(viewers)} watchers together: {cpu * 100:.0f} % of one core "
        "(target <= 50 %)"
    )


if __name__ == "__main__":
    main()
