"""Problems found in a plan, reported as `FILE:LINE:COL: field.path: message (hint)`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """Render a field path the way a reviewer reads it: `steps[3].depends_on[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(plan)"


@dataclass(frozen=True, slots=True)
class PlanProblem:
    """One thing wrong (or, with `severity="warning"`, doubtful) in a plan."""

    file: str
    line: int
    column: int
    path: Path
    message: str
    hint: str = ""
    severity: str = "error"

    def __str__(self) -> str:
        hint = f" ({self.hint})" if self.hint else ""
        level = "warning: " if self.severity == "warning" else ""
        return (
            f"{self.file}:{self.line}:{self.column}: {level}{format_path(self.path)}: "
            f"{self.message}{hint}"
        )


class PlanInvalid(Exception):
    """The plan cannot be used; `problems` lists every reason, in file order."""

    def __init__(self, problems: Iterable[PlanProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, format_path(p.path)))
        super().__init__("\n".join(str(p) for p in self.problems))
