"""The one boundary for text that nobody on the lead's side controls.

Notes typed by people, log lines from remote hosts, probe results, DNS answers, SSH key comments,
file names in a bundle someone asks us to verify, and the plan's own strings once they reach a
screen: each may carry terminal escape sequences, Rich or Textual markup, Markdown or HTML, or
megabytes of text. Every view, CLI printer and report renderer passes such a string through one
of the functions here, which make it inert:

- control characters (C0 except a meaningful tab or newline, DEL, C1) and the Unicode format
  characters that reorder or hide text (bidi overrides, line separators) are shown as visible
  symbols, so an escape sequence reads ``␛[2J`` and is never emitted;
- text for a terminal widget becomes a :class:`rich.text.Text` holding the literal characters,
  never parsed as markup, so no style, link or ``@click`` action is ever built from data;
- Markdown text is escaped so that a note shows exactly what was typed, with no HTML or link;
- a very long string is cut for display with a visible mark saying how much was left out.

This module imports neither Textual nor anything of ours: the CLI, the reports and the UI all
use it.
"""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

CELL_LIMIT = 200
"""Characters shown in one table cell or one-line label."""
LINE_LIMIT = 2_000
"""Characters shown of one log line or one CLI line."""
BLOCK_LIMIT = 20_000
"""Characters shown of one multi-line text (a note in the detail pane, a report field)."""

# C0 (tab and newline are decided per call), DEL, C1, and the format characters that let text
# pretend to be something else: bidi embeddings, overrides and isolates (Trojan Source), the
# Arabic letter mark, line/paragraph separators, the BOM; lone surrogates from undecodable bytes.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
    "\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_CONTROL_SINGLE_LINE = re.compile(_CONTROL.pattern[:-1] + "\t\n]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␛ ␇ ␈ ␍ ␊ …
    if code == 0x7F:
        return "\u2421"  # ␡
    if code <= 0x9F:
        return f"\\x{code:02x}"  # C1 has no pictures: \x9b reads as what it is
    if 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return f"<U+{code:04X}>"


def clip(value: str, limit: int) -> str:
    """`value` cut to `limit` characters with a visible mark: `…` in a cell (at most
    `CELL_LIMIT`), `… [N more characters]` for a line or a block."""
    if len(value) <= limit:
        return value
    if limit <= CELL_LIMIT:
        return f"{value[: max(limit - 1, 0)]}…"
    return f"{value[:limit]}… [{len(value) - limit:,} more characters]"


def visible(value: str, *, multiline: bool = False) -> str:
    """Every control and format character made visible. With `multiline`, tab and newline stay
    (a CR LF pair reads as a newline); otherwise they are shown too (␉ ␊)."""
    if multiline:
        value = value.replace("\r\n", "\n")
        return _CONTROL.sub(_picture, value)
    return _CONTROL_SINGLE_LINE.sub(_picture, value)


def inert(value: object, *, limit: int = CELL_LIMIT, multiline: bool = False) -> str:
    """Any value as text that is safe on a terminal: cut to `limit`, controls made visible.
    The result still carries markup characters literally: hand it to something that does not
    parse markup (a `Text`, `markup=False`, `click.echo`)."""
    text = value if isinstance(value, str) else str(value)
    return visible(clip(text, limit), multiline=multiline)


def quoted(value: object, *, limit: int = 80) -> str:
    """An id or a name from outside, quoted inside a sentence the service or the CLI says (a
    refusal): cut to `limit`, controls and lone surrogates made visible. However big or strange
    the value, the sentence stays short and encodable."""
    return f"'{inert(value, limit=limit)}'"


_TEXT: Any = None


def _text_class() -> type[Text]:
    """Rich's Text, imported on first use: a CLI command that prints plain lines (`cutover
    note`) does not load Rich."""
    global _TEXT
    if _TEXT is None:
        from rich.text import Text

        _TEXT = Text
    return _TEXT


def text(
    value: object, style: str = "", *, limit: int = CELL_LIMIT, multiline: bool = False
) -> Text:
    """A Rich `Text` of the literal characters: for table cells, labels, logs, CLI tables."""
    return _text_class()(inert(value, limit=limit, multiline=multiline), style=style, end="")


def cell(value: object, *, limit: int = CELL_LIMIT) -> Text:
    """A table cell. A `Text` built elsewhere is checked again: any control character in it
    (or more than `limit` characters) gives a fresh, plain `Text` of its visible characters."""
    text_class = _text_class()
    if isinstance(value, text_class):
        plain = value.plain
        if len(plain) <= limit and not _CONTROL_SINGLE_LINE.search(plain):
            return value
        return text_class(inert(plain, limit=limit), style=value.style, end="")
    return text(value, limit=limit)


# Markdown: the characters that make emphasis, code, links, images and table cells anywhere in
# a line (escaped with a backslash, which CommonMark allows before any ASCII punctuation), the
# HTML ones (made entities, so no renderer, however lax, sees a tag or an entity), and the ones
# that start a block (heading, list, quote, setext rule) at the start of a line.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_LINE_START = re.compile(r"^(\s*)([#+\-=]|\d+[.)])", re.MULTILINE)


def md(value: object, *, limit: int = BLOCK_LIMIT, multiline: bool = False) -> str:
    """Untrusted text for a Markdown document: shows exactly what was typed, as literal text;
    no HTML, no link, no emphasis, no heading, no table cell break. Newlines (with `multiline`)
    become Markdown hard breaks, so the lines stay lines and none starts a block."""
    plain = inert(value, limit=limit, multiline=multiline)
    plain = plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    plain = _MD_SPECIAL.sub(r"\\\1", plain)
    if multiline:
        lines = [line.strip() for line in plain.split("\n")]
        plain = "\\\n".join(_MD_LINE_START.sub(_block_start, line) for line in lines if line)
    else:
        plain = _MD_LINE_START.sub(_block_start, plain)
    return plain


def _block_start(match: re.Match[str]) -> str:
    """`# x` → `\\# x`, `1. x` → `1\\. x`: only punctuation may be backslash-escaped."""
    lead, mark = match.groups()
    return f"{lead}{mark[:-1]}\\{mark[-1]}"


# A Markdown link or image whose target is not an ordinary web link, mail address or anchor:
# `[x](javascript:…)`, `[x](data:…)`, `[x]( vbscript:…)`, autolinks `<javascript:…>`.
_UNSAFE_LINK = re.compile(r"\]\(\s*(?!(?:https?://|mailto:|#))", re.IGNORECASE)


def md_document(value: str, *, limit: int = BLOCK_LIMIT) -> str:
    """Markdown written in the plan (instructions, rollback): reviewed text whose formatting is
    kept, but with controls made visible, every HTML tag shown as text, and links that are not
    http(s), mailto or an anchor turned into literal text."""
    plain = html.escape(inert(value, limit=limit, multiline=True), quote=False)
    return _UNSAFE_LINK.sub(r"\\](", plain)


# Inside JSON, a character can only occur in a string, where \\uXXXX means the same character:
# escaping these keeps the JSON exact and makes it inert on a terminal (json.dumps with
# ensure_ascii=False escapes C0 but leaves DEL, C1 and the format characters raw).
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def json_text(value: Any, **kwargs: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, **kwargs)`, safe to print on a terminal."""
    dumped = json.dumps(value, ensure_ascii=False, **kwargs)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


__all__ = [
    "BLOCK_LIMIT",
    "CELL_LIMIT",
    "LINE_LIMIT",
    "cell",
    "clip",
    "inert",
    "json_text",
    "md",
    "md_document",
    "text",
    "visible",
]
