"""The audit journal: append-only, hash-chained SQLite; the single source of truth.

The names below are loaded when first used (PEP 562): a client of the journal service that
needs only the errors does not import the store, the chain and SQLite."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import IdempotencyConflict, JournalError

if TYPE_CHECKING:
    from .chain import ChainReport, Checkpoint, Event
    from .lock import JournalLocked
    from .store import (
        Actor,
        JournalReader,
        JournalWriter,
        Replayed,
        behind_recorded_head,
        recorded_head,
    )

_WHERE = {
    "ChainReport": ".chain",
    "Checkpoint": ".chain",
    "Event": ".chain",
    "JournalLocked": ".lock",
    "Actor": ".store",
    "JournalReader": ".store",
    "JournalWriter": ".store",
    "Replayed": ".store",
    "behind_recorded_head": ".store",
    "recorded_head": ".store",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Actor",
    "ChainReport",
    "Checkpoint",
    "Event",
    "IdempotencyConflict",
    "JournalError",
    "JournalLocked",
    "JournalReader",
    "JournalWriter",
    "Replayed",
    "behind_recorded_head",
    "recorded_head",
]
