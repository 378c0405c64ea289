"""Secrets are references in the plan (`env:NAME`, `file:/path`), resolved at the moment of use,
and redacted from everything the console writes or shows.

Redaction has two halves. Every value this process resolved is remembered, together with the
parts of it that are secrets on their own (the password of a DSN or a URL, in the forms a log
might quote them), and blanked wherever it appears. And text in the shapes that carry secrets
is blanked whatever the value: `user:password@` in URLs, `password`/`passwd`/`pwd`/`secret`/
`token`/`api_key` fields in JSON, YAML and `key=value` text, `Authorization:` and `Cookie:`
headers.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, unquote, urlsplit

MASK = "***"

# A field name that holds a secret: password, passwd, pwd, secret, token, api_key, api-key,
# apikey, and longer names built on them (client_secret, access_token, db_password, …). The
# patterns start at the keyword, never at a free prefix, and every repetition is bounded: a
# megabyte-long log line costs linear time.
_KEY = r"(?:password|passwd|pwd|secret|token|api[_\-]?key)[A-Za-z0-9_.\-]{0,40}"
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # JSON (and Python reprs): "password": "…" or 'password': '…', or a bare number
    (
        re.compile(
            rf"""(?i)({_KEY}["']\s*:\s*)(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d[\d.]*)"""
        ),
        rf'\1"{MASK}"',
    ),
    # headers: everything after the name is the credential
    (
        re.compile(r"(?im)\b((?:proxy-)?authorization|(?:set-)?cookie|x-api-key)(\s*:\s*)[^\r\n]*"),
        rf"\1\2{MASK}",
    ),
    # user:password@ in any URL
    (
        re.compile(r"(?i)(\b[a-z][a-z0-9+.\-]{0,30}://[^\s:/?#@]{0,256}:)[^\s/?#@]{1,256}@"),
        rf"\1{MASK}@",
    ),
    # key=value, key: value (YAML, ODBC connection strings, query strings, command lines)
    (
        re.compile(rf"""(?i)({_KEY}\s*[=:]\s*)(?:"[^"]*"|'[^']*'|\{{[^}}]*\}}|[^\s;,&"'}}]+)"""),
        rf"\1{MASK}",
    ),
)
_DSN_PASSWORD = re.compile(r"(?i)(?:^|;)\s*(?:pwd|password)\s*=\s*(\{[^}]*\}|[^;]*)")


class SecretUnavailable(Exception):
    """A reference that cannot be resolved; the message names the reference, never a value."""


class Redactor:
    """Remembers every secret value resolved in this process and blanks it out of text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._ordered: list[str] = []

    def remember(self, value: str) -> None:
        """A resolved value, and the secrets inside it, in the forms text may quote them."""
        parts = {value, value.strip()}
        for match in _DSN_PASSWORD.finditer(value):
            parts.add(match.group(1).strip().strip("{}"))
        if "://" in value:
            try:
                password = urlsplit(value.strip()).password
            except ValueError:
                password = None
            if password:
                parts |= {password, unquote(password)}
        parts |= {quote(p, safe="") for p in list(parts)}
        added = {p for p in parts if len(p) >= 4}  # shorter ones would blank ordinary words
        if not added <= self._values:
            self._values |= added
            self._ordered = sorted(self._values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._ordered:
            if value in text:
                text = text.replace(value, MASK)
        for pattern, replacement in _SHAPES:
            text = pattern.sub(replacement, text)
        return text


REDACT = Redactor()


class RedactingStream(io.TextIOBase):
    """A text stream that writes whole lines, each redacted, to `target` (a process's stderr:
    tracebacks and warnings quote exception messages, which may carry a resolved secret)."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            whole, _, self._pending = self._pending.rpartition("\n")
            self.target.write(REDACT(whole + "\n"))
            self.target.flush()
        if len(self._pending) > 65536:  # no newline coming: never hold unbounded text
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.target.write(REDACT(self._pending))
            self._pending = ""
        self.target.flush()


def redacted(value: Any) -> Any:
    """`value` (a journal payload: dicts, lists, strings) with every string redacted."""
    if isinstance(value, str):
        return REDACT(value)
    if isinstance(value, dict):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    return value


def resolve(reference: str, *, base: Path | None = None) -> str:
    """The value behind `env:NAME` or `file:/path` (relative paths: from `base`)."""
    kind, _, name = reference.partition(":")
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise SecretUnavailable(f"environment variable {name} is not set (from {reference})")
    elif kind == "file":
        path = Path(name)
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretUnavailable(
                f"cannot read {path}: {exc.strerror} (from {reference})"
            ) from None
    else:
        raise SecretUnavailable(f"'{reference}' is not a secret reference (env:NAME or file:/path)")
    REDACT.remember(value)
    return value
