"""Panes behind a tab make their widgets the first time they are shown.

Each SSH watcher is a process of its own: before its first frame it made, styled and laid out
every pane's tables (and each table's component classes), though it shows one pane at a time and
most watchers never open most of them. A `LazyPane` is one empty container until shown; what it
is fed meanwhile it keeps as data (the Journal pane's rows, the Logs pane's lines) and draws when
it is built."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget


class LazyPane(Vertical):
    """Subclasses give `parts()` (their widgets) and may use `on_built()` (after they are
    mounted); methods that reach a part check `built` first."""

    built = False
    _building = False

    def compose(self) -> ComposeResult:
        yield from ()

    def parts(self) -> Iterable[Widget]:
        """The pane's widgets, made when it is first shown (each pane gives its own)."""
        return ()

    def on_built(self) -> None:
        """Called once the parts are mounted (columns, what was kept while unbuilt)."""

    async def build(self) -> None:
        """Make and mount the parts, once (the app calls this when the pane is shown)."""
        if self.built or self._building:
            return
        self._building = True
        await self.mount_all(list(self.parts()))
        self.built = True
        self.on_built()


__all__ = ["LazyPane"]
