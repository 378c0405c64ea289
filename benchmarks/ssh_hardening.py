"""The SSH server's hardening (issue 11), measured with the real OpenSSH client against
`cutover serve` on loopback, with the default limits and with the limits lifted (as before):

- a watcher's first frame while 200 idle unauthenticated connections are held open (from 20 other
  loopback addresses, half silent, half stopped after the banner): median of 5 runs, and without
  the flood as the baseline;
- new connections accepted per second from one address hammering the port for 5 s;
- the time from freezing a client (SIGSTOP) to its viewer process being reaped, default keepalives.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "integration"))
from test_ssh_hardening import PtyClient, alive, first_bytes, raw
from test_ssh_watch import Served, children_of, start_serve, stop_serve

LIFTED = (
    "--connection-rate",
    "1000000",
    "--connection-burst",
    "1000000",
    "--max-unauthenticated",
    "1000000",
)
RUNS, FLOOD, HAMMER = 5, 200, 5.0


def first_frame(served: Served, run: int, flood: bool) -> float:
    # each run floods from fresh addresses: every source starts with a full bucket
    count = FLOOD if flood else 0
    sockets = [
        raw(served.port, f"127.0.{run + 1}.{2 + i // 10}", bool(i % 2)) for i in range(count)
    ]
    try:
        time.sleep(0.5)
        client = PtyClient(served.ssh("-tt", "-b", f"127.0.{run + 1}.1"))
        try:
            return client.wait_for(b"Small test cutover", timeout=30)
        finally:
            client.close()
    finally:
        for sock in sockets:
            sock.close()


def accepted_per_second(served: Served) -> float:
    accepted, start = 0, time.monotonic()
    while time.monotonic() - start < HAMMER:
        accepted += first_bytes(served.port, "127.0.9.1").startswith(b"SSH-2.0-")
    return accepted / (time.monotonic() - start)


def keepalive_reap(served: Served) -> float:
    client = PtyClient(served.ssh("-tt"))
    try:
        client.wait_for(b"Small test cutover")
        (viewer,) = children_of(served.proc.pid)
        os.kill(client.proc.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        while alive(viewer) and time.monotonic() - frozen < 600:
            time.sleep(0.2)
        return time.monotonic() - frozen
    finally:
        client.close()


def main() -> None:
    for label, options in (("default limits", ()), ("limits lifted (as before)", LIFTED)):
        with tempfile.TemporaryDirectory() as tmp:
            served = start_serve(Path(tmp), *options)
            try:
                quiet = [first_frame(served, run, flood=False) for run in range(RUNS)]
                flooded = [first_frame(served, RUNS + run, flood=True) for run in range(RUNS)]
                rate = accepted_per_second(served)
            finally:
                stop_serve(served)
        print(f"{label}:")
        print(f"  first frame, no flood: median {statistics.median(quiet):.2f} s {_r(quiet)}")
        print(
            f"  first frame, {FLOOD} idle unauthenticated held: "
            f"median {statistics.median(flooded):.2f} s {_r(flooded)}"
        )
        print(f"  accepted from one address: {rate:.1f} connections/s over {HAMMER:.0f} s")
    with tempfile.TemporaryDirectory() as tmp:
        served = start_serve(Path(tmp))
        try:
            reaped = keepalive_reap(served)
            print(f"keepalive (defaults): frozen client's viewer reaped after {reaped:.1f} s")
        finally:
            stop_serve(served)


def _r(samples: list[float]) -> str:
    return f"({min(samples):.2f}-{max(samples):.2f})"


if __name__ == "__main__":
    main()
