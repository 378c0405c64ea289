"""Where a journal operation of the CLI goes: to the journal's service when one runs, or
straight into the journal when none does. Either way the same `operations.apply` runs, so the
rules, the messages and the idempotency keys are the same."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..journal.lock import JournalLocked
from .address import SERVICE_COMMAND
from .client import ServiceClient
from .protocol import Request

STARTING_WAIT = 3.0  # seconds to wait for a service that holds the lock but is not listening yet


@dataclass
class Outcome:
    result: dict[str, Any]
    via_service: bool


def perform(journal: Path, command: str, request: Request) -> Outcome:
    """Run `request` on `journal`: through its service, or as its writer for this one request
    (JournalLocked, exit 3, when another process that is not the service writes it)."""
    deadline = time.monotonic() + STARTING_WAIT
    while True:
        with ServiceClient.connect(journal) as client:
            if client is not None:
                return Outcome(client.call(request.op, request.args, request.idem), True)
        # no service: this process writes, with the rules (imported only now)
        from ..clock import SystemClock
        from ..journal import JournalWriter
        from ..runbook import Cutover
        from .operations import apply

        try:
            writer = JournalWriter.open(journal, command=command)
        except JournalLocked as locked:
            # a service that is starting holds the lock a moment before it listens
            if locked.holder.get("command") == SERVICE_COMMAND and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise
        try:
            return Outcome(apply(Cutover(writer, SystemClock()), request), False)
        finally:
            writer.close()
