"""The audit journal: append-only, hash-chained SQLite; the single source of truth."""

from .chain import ChainReport, Checkpoint, Event
from .lock import JournalLocked
from .store import (
    Actor,
    IdempotencyConflict,
    JournalError,
    JournalReader,
    JournalWriter,
    Replayed,
    behind_recorded_head,
    recorded_head,
)

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
