"""Cell values as text."""

from __future__ import annotations


def raw_text(value: object) -> str:
    """A cell as text: `14.0` (how spreadsheets store 14) → `14`, surrounding spaces gone."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
