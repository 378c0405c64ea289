"""Step ids from what a spreadsheet holds, and a step's keys in the order reviewers expect."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_STEP_ORDER = (
    "id", "title", "phase", "owner", "kind", "duration", "depends_on", "not_before",
    "instructions", "gates", "signoff", "rollback", "point_of_no_return", "action",
)  # fmt: skip


def slug(text: str, limit: int = 48) -> str:
    """`Back up the DB (full)` → `back-up-the-db-full`; '' when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return out[:limit].rstrip("-")


def unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate, n = base[: 64 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def _ordered(step: dict[str, Any]) -> list[str]:
    keys = [k for k in _STEP_ORDER if k in step]
    keys += [k for k in step if k not in _STEP_ORDER]
    out = []
    for key in keys:
        value = step[key]
        if key == "depends_on" and not value:
            continue
        if key == "kind" and value == "task":
            continue
        out.append(key)
    return out


def ordered_step(step: dict[str, Any]) -> dict[str, Any]:
    """The step with its keys in the usual order, empty `depends_on` and `kind: task` left out."""
    return {key: step[key] for key in _ordered(step)}
