"""What the CLI prints passes the untrusted-text boundary: a journal, a probe, a DNS answer or a
plan may quote escape sequences or markup, and none of it may drive the terminal.

Plain lines go through `echo`; Rich tables are built with `console()` (markup, highlighting and
emoji codes off) from `cells(...)`. JSON goes through `untrusted.json_text`: exact, and inert.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TextIO

import click

from ..untrusted import LINE_LIMIT, clip, visible

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


NOTES_SHOWN = 20  # notes printed after a restore or a verify; the rest are counted
NOT_CONFIRMED = 2  # exit status: an update to send, no terminal to confirm in and no --yes

_json_stdout: TextIO | None = None


@contextlib.contextmanager
def json_only_stdout() -> Iterator[None]:
    """While a `--json` command runs, stdout carries its JSON and nothing else: whatever else
    writes to stdout (a library's print, a progress line) goes to stderr instead."""
    global _json_stdout
    real, _json_stdout = sys.stdout, sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _json_stdout = None
        sys.stdout = real


def json_out(text: str) -> None:
    """One JSON document to the command's real stdout (see `json_only_stdout`)."""
    click.echo(text, file=_json_stdout or sys.stdout)


def echo(message: object = "", *, err: bool = False, limit: int | None = None) -> None:
    """One message (it may hold several lines), with every control character made visible;
    cut at `limit` characters when it quotes something that may be huge."""
    text = message if isinstance(message, str) else str(message)
    click.echo(visible(text if limit is None else clip(text, limit), multiline=True), err=err)


def console(**kwargs: Any) -> Console:
    """A Rich console that never reads markup, emoji codes or highlights in what it prints."""
    from rich.console import Console

    return Console(markup=False, highlight=False, emoji=False, **kwargs)


def styled(value: object, style: str = "") -> Text:
    """A literal `Text` (newlines kept) for a table cell or a line of a live view."""
    from ..untrusted import text

    return text(value, style, limit=LINE_LIMIT, multiline=True)


def cells(*values: object) -> list[Text]:
    """A table row: every value literal; a `Text` built by the caller is checked again."""
    from rich.text import Text

    row = []
    for value in values:
        if isinstance(value, Text):
            plain = value.plain
            safe = len(plain) <= LINE_LIMIT and visible(plain, multiline=True) == plain
            row.append(value if safe else styled(plain, str(value.style)))
        else:
            row.append(styled(value))
    return row
