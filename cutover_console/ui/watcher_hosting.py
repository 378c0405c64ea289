"""Teammates watching over SSH from inside the lead's process (`cutover run --serve`): the SSH
server runs as a worker of the lead's app, each arrival and departure is journaled, and the
clock bar names who is watching."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App

from ..service.surface import ConsoleSession
from .messages import StateChanged

if TYPE_CHECKING:  # the mixin is only ever part of LeadApp
    _AppBase = App[None]
else:
    _AppBase = object


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    authorized_keys: Path
    host_key: Path


class WatcherHosting(_AppBase):
    """Serve read-only watchers over SSH until the lead's app stops (mixed into `LeadApp`)."""

    lead_session: ConsoleSession
    hub: Any
    watchers: str
    _stop: asyncio.Event

    if TYPE_CHECKING:

        def say(
            self,
            message: str,
            *,
            title: str = "",
            severity: Any = "information",
            timeout: float | None = None,
        ) -> None: ...

    async def _serve_watchers(self, options: ServeOptions) -> None:
        """Teammates watch over SSH from inside the lead's process; the header shows who."""
        from ..sshwatch.server import WatchHub, load_or_create_host_key

        self.hub = WatchHub(self.lead_session.writer.path, on_change=self._watcher_changed)
        try:
            server = await self.hub.start(
                options.host,
                options.port,
                load_or_create_host_key(options.host_key),
                options.authorized_keys,
            )
        except (OSError, ValueError) as exc:
            self.say(
                f"cannot serve watchers on {options.host}:{options.port}: {exc}",
                severity="error",
                timeout=15,
            )
            return
        self.say(f"serving watchers on {options.host}:{options.port}", timeout=5)
        try:
            await self._stop.wait()
        finally:
            server.close()

    def _watcher_changed(self, what: str, viewer: Any) -> None:
        self.watchers = self.hub.watching() if self.hub is not None else ""
        payload = {
            "fingerprint": viewer.key_fingerprint,
            "comment": viewer.comment,
            "peer": viewer.peer,
        }
        if what == "disconnected":
            payload["duration_s"] = round(time.time() - viewer.started, 1)
        self.run_worker(self._journal_watcher(what == "connected", payload), group="watchers")

    async def _journal_watcher(self, connected: bool, payload: dict[str, Any]) -> None:
        await self.lead_session.request("record_watcher", connected=connected, viewer=payload)
        self.post_message(StateChanged([]))
