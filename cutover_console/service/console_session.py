"""The lead's console as a client of the journal service.

It reads the journal read-only, as a watcher does (the state is a fold of what the service
journals), and sends each action as a named request; an action shows on screen once the service
has committed it and this session has folded it in from the journal. The service's engines
report their failures through `status`; a service that is gone is reported the same way, in the
panes, and `restart()` starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from ..clock import Clock, SystemClock
from ..journal import Event, JournalError
from ..runbook import ActionRefused, Refusal
from ..runbook.comms_ledger import only_comms
from ..runbook.session import WatchSession
from . import process
from .client import ServiceClient, ServiceUnavailable

STATUS_EVERY = 1.0  # seconds between two questions to the service about its engines
STATUS_TIMEOUT = 2.0  # seconds a service that accepts has to answer before it counts as gone
FOLLOW_EVERY = 0.2  # seconds between two looks at the journal for new events


class ServiceDown(JournalError):
    """The journal service is not running (or stopped answering)."""


@dataclass(frozen=True)
class JournalAt:
    """Where the journal is (what the console's SSH watcher hosting asks the writer for)."""

    path: Path


class ServiceSession(WatchSession):
    """The console's session when the journal service writes: same surface as the lead's
    in-process session (state, lock, reader, engine_errors, log_lines, poll, close), with
    `request(op, **args)` instead of running actions itself."""

    read_only = False

    def __init__(self, journal: Path, *, clock: Clock | None = None) -> None:
        super().__init__(journal)
        self.journal = journal
        self.writer = JournalAt(journal)
        self.clock = clock or SystemClock()
        self.base: Path | None = None
        self.service_down: str | None = None  # why, when the service is not there
        self._client: ServiceClient | None = None
        self._client_lock = threading.Lock()

    # -- requests --------------------------------------------------------------------------
    def call(self, op: str, args: dict[str, Any] | None = None, idem: str | None = None) -> Any:
        """One request to the service (blocking: call from a thread). Raises ServiceDown when
        there is no service to ask."""
        with self._client_lock:
            client = self._client or ServiceClient.open(self.journal)
            if client is None:
                self._down("the journal service is not running")
            self._client = client
            try:
                result = client.call(op, args, idem)
            except ServiceUnavailable as exc:
                client.close()
                self._client = None
                if not self._answers():
                    self._down(f"the journal service is not running (it ended: {exc})")
                self._down(str(exc))  # it answers again (restarted): the request is in doubt
        self.service_down = None
        return result

    def _answers(self) -> bool:
        """Whether a service answers on the socket now (a fresh connection, closed after):
        a socket that still accepts but whose service never answers counts as none."""
        try:
            again = ServiceClient.open(self.journal, timeout=STATUS_TIMEOUT)
        except JournalError:
            return False
        if again is None:
            return False
        try:
            again.call("status")
        except ServiceUnavailable:
            return False
        except JournalError:
            pass  # it answered, with a refusal: it is there
        finally:
            again.close()  # the next request connects afresh (to a restarted service)
        return True

    def _down(self, why: str) -> NoReturn:
        self.service_down = why
        for engine in ("dns", "flows", "logs"):
            self.engine_errors[engine] = f"{why}: nothing is probed (restart it)"
        raise ServiceDown(why)

    def journal_event(self, result: dict[str, Any]) -> Event | None:
        """The journaled event a result names, folded in first (so the screen shows it)."""
        self.poll()
        info = result.get("event")
        if not info:
            return None
        with self.lock:
            found = next(self.reader.events(after=int(info["seq"]) - 1), None)
        return found

    async def request(self, op: str, **args: Any) -> Event | None:
        """Send a named journal operation (`note`, `start_step`…); the journaled event, or
        ActionRefused with the service's refusals (a dead service is one of them)."""
        idem = args.pop("idem", None)
        try:
            result = await asyncio.to_thread(self.call, op, args, idem)
        except ServiceDown as exc:
            raise ActionRefused(
                op.replace("_", " "),
                args.get("step"),
                [Refusal("service", f"{exc}; restart it (cutover service start -j J)")],
            ) from None
        return await asyncio.to_thread(self.journal_event, result)

    async def statement(self, step: str, by: str) -> str:
        """A sign-off statement for `by` to sign, issued by the service (signoffs/)."""
        try:
            result = await asyncio.to_thread(
                self.call, "signoff_statement", {"step": step, "by": by}
            )
        except ServiceDown as exc:
            raise ActionRefused("sign off", step, [Refusal("service", str(exc))]) from None
        return str(result["statement"])

    # -- following the service -------------------------------------------------------------
    async def run_engines(
        self, stop: asyncio.Event, changed: Callable[[], None], base: Path | None = None
    ) -> None:
        """The engines run in the service: follow what they journal and how they are, until
        `stop`; `changed()` after each change, except for comms events alone (the screen's
        clock tick, once a second, shows those)."""
        asked = 0.0
        while not stop.is_set():
            new = await asyncio.to_thread(self.poll)
            before = dict(self.engine_errors)
            if time.monotonic() - asked >= STATUS_EVERY:
                asked = time.monotonic()
                await asyncio.to_thread(self.refresh_status)
            # the comms engine's bookkeeping alone (attempts, deliveries: a dozen a second
            # while updates go out) waits for the screen's next tick instead
            if (new and not only_comms(new)) or self.engine_errors != before:
                changed()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FOLLOW_EVERY)

    def refresh_status(self) -> dict[str, Any] | None:
        """Ask the service how its engines are; a service that is gone shows in the panes."""
        try:
            status = self.call("status")
        except ServiceDown:
            return None
        self.engine_errors.clear()
        self.engine_errors.update(status.get("engine_errors") or {})
        return dict(status)

    def restart(self) -> int:
        """Start the service again (after it died); its pid."""
        try:
            pid = process.start(self.journal)
        except process.ServiceAlreadyRunning as exc:  # another console restarted it first
            pid = exc.pid
        self.service_down = None
        self.engine_errors.clear()
        return pid

    def stop_service(self) -> int | None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
        return process.stop(self.journal)

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
        super().close()
