"""Live against rehearsal: how long each step took in the latest rehearsal of the same cutover
and in the live run. Drift between the two is the most cited cause of blown cutover windows."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ..journal import JournalError, JournalReader
from ..journal.store import APPLICATION_ID
from ..plan.timeparse import format_duration
from ..runbook.fold import CutoverState
from .inline import Data, Paragraph

DRIFT_RATIO = 0.25  # a step that took 25 % longer or shorter than rehearsed ...
DRIFT_MIN = timedelta(minutes=5)  # ... and at least five minutes off, is flagged


@dataclass
class Rehearsal:
    label: str  # how the report names it (the journal's file name)
    state: CutoverState


SEARCH_DEPTH = 3  # folders below the live journal's: state/demo/<time>/journal.sqlite is 2
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _looks_like_journal(path: Path) -> bool:
    """An SQLite header carrying our application_id (bytes 68-71), without asking SQLite: a
    foreign or unreadable file is skipped before anything can complain about it."""
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except OSError:
        return False
    return (
        len(header) == 100
        and header.startswith(_SQLITE_MAGIC)
        and int.from_bytes(header[68:72], "big") == APPLICATION_ID
    )


def _created(path: Path) -> tuple[str, str, str] | None:
    """(created ts, cutover id, mode) of a journal file, or None when it is not a readable one
    (damaged, locked, another kind of file): the lookup skips such files silently."""
    if not _looks_like_journal(path):
        return None
    with contextlib.suppress(JournalError, sqlite3.Error, OSError, ValueError, StopIteration):
        with JournalReader(path, busy_timeout_ms=100) as reader:  # a locked file is skipped
            first = next(reader.events())
        p = first.payload
        return first.ts, str(p.get("cutover") or ""), str(p.get("mode", "live"))
    return None


def _candidates(folder: Path, depth: int) -> Iterator[Path]:
    """`*.sqlite` files in `folder` and up to `depth` folders below, in name order, never
    following a symlinked folder (no loops, no walking out of the tree)."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        with contextlib.suppress(OSError):
            if entry.name.endswith(".sqlite") and entry.is_file():
                yield Path(entry.path)
            elif depth > 0 and entry.is_dir(follow_symlinks=False):
                yield from _candidates(Path(entry.path), depth - 1)


def find_latest(journal: Path, cutover_id: str, *, limit: int = 500) -> Path | None:
    """The most recently created rehearsal journal of `cutover_id` in the live journal's folder
    or up to SEARCH_DEPTH folders below it (where `cutover run --rehearsal` and `cutover demo`
    leave them). Anything else there is ignored."""
    best: tuple[str, Path] | None = None
    live = journal.resolve()
    for n, path in enumerate(_candidates(journal.parent, SEARCH_DEPTH)):
        if n >= limit:
            break
        if path.resolve() == live:
            continue
        info = _created(path)
        if info is None or info[2] != "rehearsal" or info[1] != cutover_id:
            continue
        if best is None or info[0] > best[0]:
            best = (info[0], path)
    return best[1] if best else None


def load(path: Path) -> Rehearsal:
    with JournalReader(path) as reader:
        state = CutoverState.from_events(reader.events())
    return Rehearsal(path.name, state)


def _took(state: CutoverState, step: str) -> timedelta | None:
    s = state.steps.get(step)
    if s is None or s.started_at is None or s.ended_at is None or s.status != "done":
        return None
    return s.ended_at - s.started_at


def _signed(delta: timedelta) -> str:
    sign = "+" if delta >= timedelta(0) else "-"
    return sign + format_duration(abs(delta))


def compare(live: CutoverState, rehearsal: Rehearsal) -> tuple[list[Paragraph], list[list[str]]]:
    """Paragraphs and rows (step, planned, rehearsal, live, difference, drift) for the report."""
    rows: list[list[str]] = []
    drifted: list[str] = []
    for step in live.plan.steps:
        rehearsed, actual = _took(rehearsal.state, step.id), _took(live, step.id)
        diff = drift = ""
        if rehearsed is not None and actual is not None:
            delta = actual - rehearsed
            diff = _signed(delta)
            base = max(rehearsed.total_seconds(), 1.0)
            if abs(delta) >= DRIFT_MIN and abs(delta.total_seconds()) / base >= DRIFT_RATIO:
                drift = f"drift {delta.total_seconds() / base:+.0%}"
                drifted.append(step.id)
        elif rehearsed is None and step.id in rehearsal.state.steps:
            drift = "not done in rehearsal"
        elif step.id not in rehearsal.state.steps:
            drift = "not in the rehearsed plan"
        rows.append(
            [
                step.id,
                format_duration(step.duration),
                format_duration(rehearsed) if rehearsed is not None else "—",
                format_duration(actual) if actual is not None else "—",
                diff,
                drift,
            ]
        )
    head = rehearsal.state.head
    paragraphs: list[Paragraph] = [
        (
            "Compared with the rehearsal journal ",
            Data(rehearsal.label),
            (f" (checkpoint `{head.seq}:{head.hash[:16]}…`)" if head else "")
            + f", created {rehearsal.state.created_at:%Y-%m-%d %H:%M} UTC.",
        ),
        (
            f"Steps off their rehearsed time by {DRIFT_RATIO:.0%} and "
            f"{format_duration(DRIFT_MIN)} or more: {', '.join(drifted)}."
            if drifted
            else "No step drifted from its rehearsed time by "
            f"{DRIFT_RATIO:.0%} and {format_duration(DRIFT_MIN)} or more."
        ),
    ]
    if rehearsal.state.document.sha256 != live.document.sha256:
        paragraphs.append(
            "The rehearsal ran a different revision of the plan "
            f"(`{rehearsal.state.document.sha256[:12]}` rehearsed, "
            f"`{live.document.sha256[:12]}` live)."
        )
    return paragraphs, rows
