"""The journal service (issue 14): a script's `cutover note` while the service (and a console
following it) runs, and `cutover run` reattaching after its console died.

Measured side by side in one run, each the median of ROUNDS rounds (each round's own median):

  note via service, ack      ServiceClient: request sent -> answer read (the event committed,
                             fsync'd), while a console session follows the journal and a second
                             client journals watcher events at ~50/s (engine-like load)
  note via service, command  `cutover note` as a process (start, import, request, exit)
  note direct, command       the same command on a journal with no service: it opens the
                             journal as its writer, folds it, appends, closes (what every
                             script did before, and could not do at all while `cutover run`
                             ran); interleaved with the one above, under the same load
  reattach                   what `cutover run` does when a service runs: ask it (status) and
                             open the console's read-only session (fold of the journal)
  before: open as writer     what `cutover run` did before: LeadSession.open (writer + fold)
  cold start                 the service started from nothing until it answers

Targets (issue 14): note acknowledged <= 100 ms median; reattach <= 1 s.
Usage: python benchmarks/journal_service.py [EVENTS]  (journal size, default 2000)
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan
from cutover_console.service import process
from cutover_console.service.client import ServiceClient
from cutover_console.service.console_session import ServiceSession
from cutover_console.service.lead import LeadSession

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "plans" / "small.yaml"
EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
ROUNDS = 3
ACKS = 60  # notes per round through the socket
COMMANDS = 7  # `cutover note` processes per round and path


def make_journal(path: Path, events: int) -> None:
    document = load_plan(SMALL)
    writer = JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor("lena", "bench"),
        cutover_id=document.plan.cutover.id,
    )
    batch = [
        ("note.added", {"text": f"filler {i}"}, Actor("lena", "bench"), None) for i in range(events)
    ]
    for start in range(0, len(batch), 500):
        writer.append_many(batch[start : start + 500])
    writer.close()


def cli_note(journal: Path, text: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "cutover_console", "note", text, "-j", str(journal), "--by", "ravi"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def engine_like_load(journal: Path, stop: threading.Event) -> None:
    with ServiceClient.connect(journal) as client:
        assert client is not None
        i = 0
        while not stop.is_set():
            viewer = {"fingerprint": f"SHA256:{i}", "comment": "bench", "peer": "127.0.0.1"}
            client.call("record_watcher", {"connected": i % 2 == 0, "viewer": viewer})
            i += 1
            time.sleep(0.02)


def follow(session: ServiceSession, stop: threading.Event) -> None:
    while not stop.is_set():
        session.poll()
        time.sleep(0.2)


def one_round(tmp: Path, r: int) -> dict[str, float]:
    served, direct = tmp / f"served{r}.sqlite", tmp / f"direct{r}.sqlite"
    make_journal(served, EVENTS)
    make_journal(direct, EVENTS)
    out: dict[str, float] = {}

    start = time.perf_counter()
    pid = process.start(served, engines=False)
    out["cold start"] = time.perf_counter() - start

    console = ServiceSession(served)
    stop = threading.Event()
    helpers = [
        threading.Thread(target=engine_like_load, args=(served, stop)),
        threading.Thread(target=follow, args=(console, stop)),
    ]
    for t in helpers:
        t.start()
    acks = []
    with ServiceClient.connect(served) as client:
        assert client is not None
        for i in range(ACKS):
            t0 = time.perf_counter()
            client.call("note", {"text": f"script note {i}", "by": "ravi"}, f"r{r}-{i}")
            acks.append(time.perf_counter() - t0)
            time.sleep(0.01)
    out["note via service, ack"] = statistics.median(acks)
    # interleaved, under the same load, so both commands see the same machine
    served_cmd, direct_cmd = [], []
    for i in range(COMMANDS):
        served_cmd.append(cli_note(served, f"cli {i}"))
        direct_cmd.append(cli_note(direct, f"cli {i}"))
    out["note via service, command"] = statistics.median(served_cmd)
    out["note direct, command"] = statistics.median(direct_cmd)
    stop.set()
    for t in helpers:
        t.join()
    console.close()

    # the console dies (kill -9 of its process is the same to the service: a client gone);
    # `cutover run` again: ask the service, open the read-only session
    reattach = []
    for _ in range(3):
        t0 = time.perf_counter()
        assert process.status(served) is not None
        session = ServiceSession(served)
        reattach.append(time.perf_counter() - t0)
        session.close()
    out["reattach"] = statistics.median(reattach)
    process.stop(served)
    before = []
    for _ in range(3):
        t0 = time.perf_counter()
        lead = LeadSession.open(direct)
        before.append(time.perf_counter() - t0)
        lead.close()
    out["before: open as writer"] = statistics.median(before)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return out


def main() -> None:
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ROUNDS):
            rounds.append(one_round(Path(tmp), r))
    print(f"journal of {EVENTS + 1} events; medians of {ROUNDS} rounds (each a median)")
    print("| measure | median | rounds |")
    print("|---|---|---|")
    for name in rounds[0]:
        values = [x[name] for x in rounds]
        shown = ", ".join(f"{v * 1000:.1f}" for v in values)
        print(f"| {name} | {statistics.median(values) * 1000:.1f} ms | {shown} |")


if __name__ == "__main__":
    main()
