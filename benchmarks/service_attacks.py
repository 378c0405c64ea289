"""The journal service under a hostile local process (issue 20, items 4 and 5).

memory   64 peers each declare an 8 MiB frame, send 8 MiB - 1 byte and stall; then they leave.
         The service's RSS at the start, while they stall, its peak (VmHWM), and once they are
         gone (polled for up to 10 s). Targets: peak <= 150 MB; after <= start + 20 MB.
flood    `cutover note` as a process, one after the other, with no flood and beside a connect
         flood (FLOODERS processes, 1 as in the issue, opening and closing connections), rounds
         interleaved in the same run: wall time and the note process's own CPU time (on a
         shared 2-core machine the flooders' busy loops take the CPU a process needs to start);
         and the request alone (ServiceClient: connect, note, answer) in this process. Every note
         must succeed; target: each <= 2 s.

Usage: python benchmarks/service_attacks.py [memory|flood|all] [ROUNDS] [FLOODERS]
"""

from __future__ import annotations

import contextlib
import json
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cutover_console.service.address import ServiceAddress
from cutover_console.service.protocol import MAX_FRAME

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "plans" / "small.yaml"
WHAT = sys.argv[1] if len(sys.argv) > 1 else "all"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
PEERS = 64
NOTES = 10  # per round and condition
FLOODERS = int(sys.argv[3]) if len(sys.argv) > 3 else 1  # the issue: one process
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


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cutover_console", *args], capture_output=True, text=True
    )


def new_service(directory: Path) -> tuple[Path, int]:
    journal = directory / "j.sqlite"
    assert cli("init", str(SMALL), "-j", str(journal), "--by", "lena").returncode == 0
    started = cli("service", "start", "-j", str(journal), "--no-engines")
    assert started.returncode == 0, started.stderr
    return journal, int(json.loads(ServiceAddress.of(journal).info.read_text())["pid"])


def mib(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def memory_round() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        journal, pid = new_service(Path(tmp))
        try:
            time.sleep(1)
            start = mib(pid)
            stop = threading.Event()
            body = struct.pack(">I", MAX_FRAME) + b"x" * (MAX_FRAME - 1)
            path = str(ServiceAddress.of(journal).socket)

            def peer() -> None:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                with contextlib.suppress(OSError):
                    s.sendall(body)
                stop.wait(120)
                s.close()

            threads = [threading.Thread(target=peer) for _ in range(PEERS)]
            for thread in threads:
                thread.start()
            time.sleep(5)
            stalled = mib(pid)
            stop.set()
            for thread in threads:
                thread.join()
            peak = mib(pid, "VmHWM")
            left = time.monotonic()
            after = mib(pid)
            while after > start + 20 and time.monotonic() - left < 10:
                time.sleep(0.25)
                after = mib(pid)
            return {
                "start": start,
                "stalled": stalled,
                "peak": peak,
                "after": after,
                "back_in_s": time.monotonic() - left,
            }
        finally:
            cli("service", "stop", "-j", str(journal))


def notes(journal: Path, label: str) -> tuple[list[float], list[float], list[float], int]:
    """Wall and CPU seconds of NOTES `cutover note` processes, then NOTES requests' seconds."""
    import os

    from cutover_console.service.client import ServiceClient

    times, cpu, requests, failed = [], [], [], 0
    for i in range(NOTES):
        began = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "cutover_console", "note", f"{label} {i}", "-j", str(journal),
             "--by", "lena"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _pid, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        times.append(time.perf_counter() - began)
        cpu.append(usage.ru_utime + usage.ru_stime)
        failed += child.returncode != 0
    for i in range(NOTES):
        began = time.perf_counter()
        with ServiceClient.connect(journal) as client:
            assert client is not None
            client.call("note", {"text": f"{label} request {i}", "by": "lena"})
        requests.append(time.perf_counter() - began)
    return times, cpu, requests, failed


def flood_rounds() -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        journal, _pid = new_service(Path(tmp))
        path = str(ServiceAddress.of(journal).socket)
        try:
            for _ in range(ROUNDS):
                quiet = notes(journal, "quiet")
                flooders = [
                    subprocess.Popen([sys.executable, "-c", FLOOD, path, "120"])
                    for _ in range(FLOODERS)
                ]
                time.sleep(0.5)
                try:
                    flooded = notes(journal, "flood")
                finally:
                    for flooder in flooders:
                        flooder.kill()
                        flooder.wait()
                for label, (wall, cpu, requests, failed) in (("quiet", quiet), ("flood", flooded)):
                    out.setdefault(f"{label} wall", []).extend(wall)
                    out.setdefault(f"{label} cpu", []).extend(cpu)
                    out.setdefault(f"{label} request", []).extend(requests)
                    out.setdefault("failed", []).append(failed)
        finally:
            cli("service", "stop", "-j", str(journal))
    return out


def main() -> None:
    if WHAT in ("memory", "all"):
        rounds = [memory_round() for _ in range(ROUNDS)]
        for r in rounds:
            print(
                f"memory: start {r['start']:.1f} MiB, 64 stalled {r['stalled']:.1f}, peak "
                f"{r['peak']:.1f}, after they left {r['after']:.1f} (in {r['back_in_s']:.1f} s)"
            )
        for key in ("start", "stalled", "peak", "after"):
            print(f"  median {key}: {statistics.median(r[key] for r in rounds):.1f} MiB")
    if WHAT in ("flood", "all"):
        result = flood_rounds()
        for key, times in result.items():
            if key == "failed":
                continue
            print(
                f"note {key}: n={len(times)} median {statistics.median(times) * 1000:.0f} ms, "
                f"max {max(times) * 1000:.0f} ms"
            )
        print(f"notes failed: {sum(result['failed'])}")


if __name__ == "__main__":
    main()
