"""Problems found in a plan, reported as `FILE:LINE:COL: field.path: message (hint)`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Path = tuple[str | int, ...]


def clip(text: str, limit: int = 80) -> str:
    """Text from the plan, shortened for a message: a 10 MB value must not become a 10 MB line."""
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def format_path(path: Path) -> str:
    """Render a field path the way a reviewer reads it: `steps[3].depends_on[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + clip(part, 40)
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


MAX_REPORTED = 1_000  # problems listed; a generated plan can have hundreds of thousands


class PlanInvalid(Exception):
    """The plan cannot be used; `problems` lists the reasons in file order, the first
    MAX_REPORTED of them and then one line counting the rest (`found` holds them all)."""

    def __init__(self, problems: Iterable[PlanProblem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.line, p.column, format_path(p.path)))
        self.found = ordered
        if len(ordered) > MAX_REPORTED:
            rest, first = len(ordered) - MAX_REPORTED, ordered[MAX_REPORTED]
            summary = PlanProblem(
                first.file,
                first.line,
                first.column,
                (),
                f"{rest} more problems from here on are not listed",
                "fix the ones above and check again",
            )
            ordered = [*ordered[:MAX_REPORTED], summary]
        self.problems = ordered
        super().__init__("\n".join(str(p) for p in self.problems))
