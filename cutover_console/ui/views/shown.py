"""`show`: a Static updated only when what it shows changes.

`Static.update` lays the whole screen out again by default (Textual cannot know the size is
the same). The panes re-render every second and on every engine event; most of those renders
produce the text already on screen, and the heads whose height is fixed by the stylesheet never
change size. Each of those layouts restyled and recomposited every widget: about two a second
per watcher, most of a watcher's CPU.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

# The longest filter or search a pane's Input takes: each key typed into an Input costs time in
# its length (Textual measures the whole value), so thousands of characters typed (or pasted by
# a hostile SSH client) kept a watcher busy for minutes (issue 21).
FILTER_LIMIT = 200


def _key(content: Any) -> Any:
    if isinstance(content, str):
        return ("str", content)
    if isinstance(content, Text):  # Text's == ignores its own style and wrapping
        return (
            "text",
            content.plain,
            tuple(content.spans),
            str(content.style),
            content.justify,
            content.overflow,
            content.no_wrap,
            content.end,
        )
    return None  # anything else is always updated


def show(widget: Static, content: Any, *, fixed_size: bool = False) -> bool:
    """Update `widget` with `content` unless it shows exactly that already; lay out again
    only when its size may change (`fixed_size`: the stylesheet fixes its height and width).
    Whether it was updated."""
    key = _key(content)
    if key is not None and getattr(widget, "_shown_key", None) == key:
        return False
    widget._shown_key = key  # type: ignore[attr-defined]
    widget.update(content, layout=not fixed_size)
    return True


def displayed(widget: Widget) -> bool:
    """Whether `widget` is on screen (no ancestor hidden, e.g. by another tab in front). A
    hidden widget that is updated makes Textual map the whole screen again at its next frame:
    panes keep what arrives while hidden and show it when they are shown."""
    node: Any = widget
    while isinstance(node, Widget):
        if not node.display:
            return False
        node = node.parent
    return True
