"""Live against rehearsal: how long each step took in the latest rehearsal of the same cutover
and in the live run. Drift between the two is the most cited cause of blown cutover windows."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ..journal import JournalReader
from ..plan.timeparse import format_duration
from ..runbook.fold import CutoverState
from .inline import Data, Paragraph

DRIFT_RATIO = 0.25  # a step that took 25 % longer or shorter than rehearsed ...
DRIFT_MIN = timedelta(minutes=5)  # ... and at least five minutes off, is flagged


@dataclass
class Rehearsal:
    label: str  # how the report names it (the journal's file name)
    state: CutoverState


def _created(path: Path) -> tuple[str, str, str] | None:
    """(created ts, cutover id, mode) of a journal file, or None when it is not one."""
    with contextlib.suppress(sqlite3.Error, OSError, ValueError, KeyError, StopIteration):
        with JournalReader(path) as reader:
            first = next(reader.events())
        if first.kind != "journal.created":
            return None
        p = first.payload
        return first.ts, str(p.get("cutover") or ""), str(p.get("mode", "live"))
    return None


def find_latest(journal: Path, cutover_id: str, *, limit: int = 500) -> Path | None:
    """The most recently created rehearsal journal of `cutover_id` at or below the live
    journal's folder (where `cutover run --rehearsal` and `cutover demo` leave them)."""
    best: tuple[str, Path] | None = None
    live = journal.resolve()
    for n, path in enumerate(sorted(journal.parent.rglob("*.sqlite"))):
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
