"""Secrets are references in the plan (`env:NAME`, `file:/path`), resolved at the moment of use,
and redacted from everything the console writes or shows."""

from __future__ import annotations

import os
import re
from pathlib import Path

_CONNECTION_PASSWORD = re.compile(r"(?i)\b(pwd|password)\s*=\s*[^;]*")


class SecretUnavailable(Exception):
    """A reference that cannot be resolved; the message names the reference, never a value."""


class Redactor:
    """Remembers every secret value resolved in this process and blanks it out of text."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def remember(self, value: str) -> None:
        if len(value) >= 4:  # shorter strings would blank out ordinary words
            self._values.add(value)

    def __call__(self, text: str) -> str:
        for value in sorted(self._values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, "***")
        return _CONNECTION_PASSWORD.sub(lambda m: f"{m.group(1)}=***", text)


REDACT = Redactor()


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
