"""The journal's errors, in a module of their own: a client of the journal service raises and
catches them without importing the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .chain import Event


class JournalError(Exception):
    """A journal cannot be used as asked; the message says why and what to do."""


class IdempotencyConflict(JournalError):
    """An idempotency key already holds a different event."""

    def __init__(self, message: str, event: Event) -> None:
        super().__init__(message)
        self.event = event
