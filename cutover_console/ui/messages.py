"""The console's own messages: what workers and engines post, what the app's handlers own."""

from __future__ import annotations

from textual.message import Message

from ..journal import Event


class StateChanged(Message):
    """New events were folded into the state (coalesced: one refresh for a burst)."""

    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events

    def can_replace(self, message: Message) -> bool:
        """Two in a row are one refresh: the handler reads what is new from the journal, not
        from the message, so a burst queued behind a slow frame costs one render."""
        return isinstance(message, StateChanged)


class ChecklistFilled(Message):
    """The checklist was filled for a width of its own (it waits for its first layout): the
    step under the cursor may be another than the one the detail shows."""
