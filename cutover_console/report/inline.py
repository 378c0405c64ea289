"""A report paragraph: the report's own words, and values from outside kept apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Data:
    """A value from outside: a note, a person's reason, a site name, a probe's detail, a file
    name. Renderers show it literally (escaped for the format, controls made visible)."""

    value: str
    multiline: bool = False


Paragraph = str | tuple[str | Data, ...]
"""A `str` (or a `str` part) is the report's own text, which may use `**bold**` and `code`;
`Data` parts are shown literally. Table cells are always shown literally."""
