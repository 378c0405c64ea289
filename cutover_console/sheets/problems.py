"""What is wrong with a spreadsheet, cell by cell: `Sheet!C4: header 'raw': what (what'd do)`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..untrusted import inert

MAX_PROBLEMS = 100  # listed at once; the rest are counted


def column_letters(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA (read-only openpyxl gives empty cells no coordinate)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def a1(sheet: str, row: int, column: int | None = None) -> str:
    """`Sheet!C4` (row and column 1-based as Excel shows them; no column: `Sheet!4`). A sheet
    name with spaces or quotes is quoted as Excel writes it."""
    name = inert(sheet, limit=40)
    if not name.replace("_", "").isalnum():
        name = "'" + name.replace("'", "''") + "'"
    return f"{name}!{row}" if column is None else f"{name}!{column_letters(column - 1)}{row}"


def shown(value: object, limit: int = 60) -> str:
    """A cell's raw value for a message: quoted, cut short, every control character visible."""
    text = value if isinstance(value, str) else repr(value)
    return "'" + inert(text, limit=limit) + "'"


@dataclass(frozen=True, slots=True)
class SheetProblem:
    """One thing wrong (or, with `severity="warning"`, approximated or left out)."""

    file: str
    where: str  # Sheet!C4, Sheet!4, or "" for the whole file
    message: str
    hint: str = ""
    header: str = ""
    raw: object = None
    severity: str = "error"

    def __str__(self) -> str:
        place = f"{inert(self.file, limit=120)}" + (f":{self.where}" if self.where else "")
        what = ""
        if self.header:
            what += f" {inert(self.header, limit=40)}"
        if self.raw is not None:
            what += f" {shown(self.raw)}"
        level = "warning: " if self.severity == "warning" else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{place}: {level}{what.strip() + ': ' if what else ''}{self.message}{hint}"


class SheetInvalid(Exception):
    """The spreadsheet cannot become a plan; `problems` lists every reason (the first
    MAX_PROBLEMS, then a line counting the rest)."""

    def __init__(self, problems: Iterable[SheetProblem]) -> None:
        found = list(problems)
        self.found = found
        shown_now = found[:MAX_PROBLEMS]
        if len(found) > MAX_PROBLEMS:
            shown_now.append(
                SheetProblem(
                    found[0].file,
                    "",
                    f"{len(found) - MAX_PROBLEMS} more problems are not listed",
                    "fix the ones above and import again",
                )
            )
        self.problems = shown_now
        super().__init__("\n".join(str(p) for p in shown_now))
