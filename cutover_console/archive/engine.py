"""The publisher as one of the cutover's engines (`service.engines.ENGINES["archive"]`).

A command that opens a journal says where it is witnessed with `configure(journal, settings)`
(the plan's `archive:` section with `--archive` winning); without that call, `CUTOVER_ARCHIVE`
(how `--archive` reaches a journal service started in another process), then the plan's
section, decide. The engine journals what it publishes through the session's journal thread, like
the DNS and flow engines, and publishes what is left when it is stopped.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..journal.events import ARCHIVE_FAULT
from ..runbook import Cutover
from . import live
from .publisher import ArchivePublisher, PublisherStatus
from .settings import ArchiveSettings, archive_settings

# `--archive` for a process that runs the engines on its own (a child inherits the environment)
ENVIRONMENT = "CUTOVER_ARCHIVE"

FINISH_WITHIN_S = 10.0  # publishing what is left at stop (a service stop waits 30 s)

_configured: dict[Path, tuple[ArchiveSettings | None, Path | None]] = {}


def configure(journal: Path, settings: ArchiveSettings | None, key: Path | None = None) -> None:
    """Where `journal` is witnessed (None: nowhere, whatever the plan says) and the key that
    signs its checkpoints (None: the export's key, `keys.export_key_path`)."""
    _configured[journal.resolve()] = (settings, key)


def publisher(journal: Path) -> ArchivePublisher | None:
    """The publisher running for `journal` in this process, if any."""
    return live.running.get(journal.resolve())


def live_status(journal: Path) -> PublisherStatus | None:
    """What the publisher of `journal` in this process is doing (None: no publisher here)."""
    found = publisher(journal)
    return found.status if found is not None else None


def make_publisher(journal: Path, cutover: Cutover, clock: Clock) -> ArchivePublisher | None:
    """The publisher `journal` is configured for (or its plan asks for), or None."""
    from ..keys import export_key_path
    from ..report.bundle import signing_key

    path = journal.resolve()
    settings, key = _configured.get(path, (None, None))
    if path not in _configured:  # e.g. the journal service, started by `cutover run --archive`
        settings = archive_settings(cutover.state.plan, os.environ.get(ENVIRONMENT) or None)
    if settings is None:
        return None
    found = ArchivePublisher(path, settings, signing_key(key or export_key_path(path)), clock=clock)
    live.running[path] = found
    return found


def archive_engine(
    cutover: Cutover,
    clock: Clock,
    journal: Callable[[Callable[[], Any]], None],
    stop: asyncio.Event,
    base: Path | None,
) -> Coroutine[Any, Any, None] | None:
    """Publish the cutover's journal beside the other engines, until `stop`."""
    found = make_publisher(cutover.writer.path, cutover, clock)
    if found is None:
        return None
    return _run(found, cutover, journal, stop)


async def _run(
    found: ArchivePublisher,
    cutover: Cutover,
    journal: Callable[[Callable[[], Any]], None],
    stop: asyncio.Event,
) -> None:
    loop = asyncio.get_running_loop()

    async def record(kind: str, payload: dict[str, Any]) -> None:
        journal(lambda: cutover.record_archive(kind, payload))

    def record_and_wait(kind: str, payload: dict[str, Any]) -> None:
        """From the publisher's thread at the end: journaled before the last segment is cut."""
        written = threading.Event()

        def write() -> None:
            try:
                cutover.record_archive(kind, payload)
            finally:
                written.set()

        loop.call_soon_threadsafe(journal, write)
        written.wait(10)

    finished = False
    try:
        await found.run(stop, record)
        # the last round's records were handed to the journal thread: written before the
        # final rounds read the journal, or they would be left out of the archive (issue 21)
        flushed = threading.Event()
        journal(flushed.set)
        await asyncio.to_thread(flushed.wait, 10)
        if not await asyncio.to_thread(found.finish, record_and_wait, FINISH_WITHIN_S):
            # said in the journal (it stays unarchived): `cutover status` and the stop say it
            record_and_wait(ARCHIVE_FAULT, found.behind_record())
        finished = True
    finally:
        found.close()
        # cancelled (a console's workers are, when it quits): left for the command to finish
        if finished and live.running.get(found.journal) is found:
            del live.running[found.journal]
