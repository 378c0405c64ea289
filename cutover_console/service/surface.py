"""What the lead's console needs of its session, whoever writes the journal: the journal service
in its own process (`ServiceSession`, what `cutover run` uses) or this process (`LeadSession`,
the demo's world and the tests). Every write is a named request (`note`, `start_step`…, the
operations of `operations.run`), never code handed to the writer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from ..clock import Clock
from ..journal import Event, JournalReader
from ..runbook import CutoverState
from ..runbook.comms_ledger import CommsFollower


class HasPath(Protocol):
    @property
    def path(self) -> Path: ...


class ConsoleSession(Protocol):
    """The lead's session as the console uses it."""

    read_only: bool
    engine_errors: dict[str, str]

    @property
    def state(self) -> CutoverState: ...

    @property
    def lock(self) -> AbstractContextManager[Any]: ...

    @property
    def reader(self) -> JournalReader: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def writer(self) -> HasPath: ...

    async def request(self, op: str, **args: Any) -> Event | None:
        """One journal operation by name; the event it journaled, or ActionRefused."""

    async def statement(self, step: str, by: str) -> str:
        """A sign-off statement for `by` to sign with their SSH key, or ActionRefused."""

    def events_after(self, seq: int) -> list[Event]:
        """The newest events after `seq`, for the Journal pane (under `lock`)."""

    def log_lines(self, after: int = 0) -> list[tuple[Any, ...]]: ...

    @property
    def comms(self) -> CommsFollower:
        """The stakeholder updates as journaled (read under `lock`)."""

    def follow_comms(self) -> int:
        """Bring `comms` up to date (blocking: call from a thread); its version."""

    async def run_engines(
        self, stop: asyncio.Event, changed: Callable[[], None], base: Path | None = None
    ) -> None: ...

    def close(self) -> None: ...
