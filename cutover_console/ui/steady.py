"""The screen and the footer, without the work Textual repeats when nothing changed.

A viewer's first second is most of what twenty watchers arriving cost the machine (issue 21):
after its first frame, Textual laid the whole screen out again for each of three `Resize` events
of the size it already had (the app's own, the driver's, the screen's), and rebuilt the footer's
keys once for each of three "bindings changed" signals of one frame (the screen resumed, the
checklist took the focus, the footer learned which keys apply). Each of those passes is a layout
or a recompose with nothing new to show.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import Footer


class SteadyScreen(Screen[Any]):
    """Lays out again on a resize only when the size is another than the one it has."""

    _resized_to: Size | None = None

    # Textual calls the handler of each class in the MRO in turn, this one first; preventing
    # the default keeps Screen's own from running.
    def _on_screen_resume(self, _event: events.ScreenResume) -> None:
        self._resized_to = self.app.size  # Screen's handler lays the screen out at this size

    async def _on_resize(self, event: events.Resize) -> None:
        if event.size == self._resized_to:  # the same size again: nothing would move
            event.stop()
            event.prevent_default()
            return
        self._resized_to = event.size


class SteadyFooter(Footer):
    """Recomposes only when the keys it would show differ from the ones it shows."""

    _showing: tuple[Any, ...] | None = None

    def _keys(self) -> tuple[Any, ...] | None:
        if not getattr(self, "_bindings_ready", True):  # Textual's Footer shows none till then
            return None
        app, active = self.app, self.screen.active_bindings
        return (
            self.compact,
            self.show_command_palette and app.ENABLE_COMMAND_PALETTE,
            tuple(  # every binding, shown or not: the palette's key is one that is not
                (
                    key,
                    b.key,
                    app.get_key_display(b),
                    b.action,
                    b.description,
                    b.show,
                    b.group,
                    enabled,
                    tip,
                )
                for key, (_node, b, enabled, tip) in active.items()
            ),
        )

    async def recompose(self) -> None:
        keys = self._keys()
        if keys is not None and keys == self._showing:
            return
        self._showing = keys
        await super().recompose()


__all__ = ["SteadyFooter", "SteadyScreen"]
