"""Placeholders: what an imported plan could not know (a contact, who leads, the client), written
as text starting with PLACEHOLDER so that `cutover check` lists each one until it is filled in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .problems import Path

PLACEHOLDER = "FILL IN:"


def placeholder(what: str) -> str:
    """The text written where a value is still to be filled in."""
    return f"{PLACEHOLDER} {what}"


def find_placeholders(node: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """(field path, text) of every placeholder left in a plan's data."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from find_placeholders(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from find_placeholders(value, (*path, index))
    elif isinstance(node, str) and node.lstrip().startswith(PLACEHOLDER):
        yield path, node
