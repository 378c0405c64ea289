"""The audit journal: append-only, hash-chained SQLite; the single source of truth."""

from .chain import ChainReport, Checkpoint, Event
from .lock import JournalLocked
from .store import Actor, JournalError, JournalReader, JournalWriter

__all__ = [
    "Actor",
    "ChainReport",
    "Checkpoint",
    "Event",
    "JournalError",
    "JournalLocked",
    "JournalReader",
    "JournalWriter",
]
