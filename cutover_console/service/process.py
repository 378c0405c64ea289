"""Starting, finding and stopping a journal's service process.

`start` launches `python -m cutover_console.service` detached: its own session (no controlling
terminal, so closing the lead's terminal leaves it running), stdin from /dev/null, stderr to the
service's log. It returns once the socket answers, or with the reason the service gave for not
starting (the journal is held by another writer, it is damaged…).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..journal import JournalError, JournalLocked
from ..journal.lock import read_holder
from .address import ServiceAddress
from .client import ServiceClient, ServiceUnavailable

START_TIMEOUT = 10.0  # seconds: opening a big journal folds it first


class ServiceStartFailed(JournalError):
    """The service process ended before it listened: its log says why."""


class ServiceAlreadyRunning(JournalError):
    """Another start won: this service runs already (its pid), and nothing was started."""

    def __init__(self, journal: Path, pid: int) -> None:
        super().__init__(f"the journal service of {journal} already runs (pid {pid})")
        self.pid = pid


@contextmanager
def _one_start_at_a_time(address: ServiceAddress, timeout: float) -> Iterator[None]:
    """Starts of one journal's service, one after the other (an flock in its private directory):
    the second sees the first's service running instead of racing it to the journal's lock and
    writing over its log."""
    fd = os.open(address.directory / "start.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ServiceStartFailed(
                        "another start of this journal's service has not finished within "
                        f"{timeout:.0f} s"
                    ) from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock


def start(
    journal: Path,
    *,
    engines: bool = True,
    base: Path | None = None,
    archive: str | None = None,
    timeout: float = START_TIMEOUT,
) -> int:
    """Start the service for `journal` and wait until it answers; its pid. `archive`: where
    its publisher witnesses the journal (the command line's `--archive`, beating the plan)."""
    address = ServiceAddress.of(journal)
    address.prepare()
    with _one_start_at_a_time(address, timeout + 5):
        return _start(journal, address, engines, base, archive, timeout)


def _start(
    journal: Path,
    address: ServiceAddress,
    engines: bool,
    base: Path | None,
    archive: str | None,
    timeout: float,
) -> int:
    running = status(journal)
    if running is not None:  # a start that finished while this one waited for its turn
        raise ServiceAlreadyRunning(journal, int(running["pid"]))
    holder = read_holder(journal)
    if holder is not None:  # refuse here, with the writer's own words
        raise JournalLocked(journal, holder)
    args = [sys.executable, "-m", "cutover_console.service", str(address.journal)]
    if not engines:
        args.append("--no-engines")
    if base is not None:
        args += ["--base", str(base)]
    env = dict(os.environ)
    if archive is not None:  # for the child only: this process's environment stays as it was
        from ..archive.engine import ENVIRONMENT

        env[ENVIRONMENT] = archive
    # no service of this journal runs and no other start is under way: the log is nobody's
    log = os.open(address.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        child = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    finally:
        os.close(log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise ServiceStartFailed(_why(address, child.returncode))
        with ServiceClient.connect(journal) as client:
            if client is not None:
                pid = int(client.call("status")["pid"])
                if pid != child.pid:  # one started by hand (`service run`) won the journal
                    raise ServiceAlreadyRunning(journal, pid)
                return child.pid
        time.sleep(0.02)
    raise ServiceStartFailed(
        f"the journal service (pid {child.pid}) did not answer within {timeout:.0f} s; "
        f"see {address.log}"
    )


def _why(address: ServiceAddress, code: int | None) -> str:
    try:
        said = address.log.read_text(errors="replace").strip().splitlines()
    except OSError:
        said = []
    last = said[-1] if said else f"exit status {code}"
    return f"the journal service did not start: {last[:1000]}"


def status(journal: Path) -> dict[str, Any] | None:
    """The running service's own account of itself, or None when none answers."""
    with ServiceClient.connect(journal) as client:
        if client is None:
            return None
        return client.call("status")


def stop(journal: Path, *, timeout: float = 30.0) -> int | None:  # (the witness: 10 s + 10 s)
    """Ask the service to stop, and wait until it has released the journal; its pid, or None
    when no service was running."""
    with ServiceClient.connect(journal) as client:
        if client is None:
            return None
        try:
            pid = int(client.call("stop")["pid"])
        except ServiceUnavailable:
            return None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if read_holder(journal) is None:
            return pid
        time.sleep(0.05)
    raise JournalError(f"the journal service (pid {pid}) did not stop within {timeout:.0f} s")
