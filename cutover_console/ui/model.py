"""The typed view model: what the clock bar and the checklist show, read once from the status
summary (`runbook.summary.status_summary`, the same one `cutover status --json` prints) into
dataclasses, so no view indexes a JSON-shaped dict. Times stay aware datetimes in the cutover's
zone; formatting is `timestamps`' job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..timestamps import parse_iso


@dataclass(frozen=True)
class StepView:
    id: str
    title: str
    phase: str
    owner: str
    status: str
    planned_start: datetime | None
    actual_start: datetime | None
    actual_end: datetime | None
    delay_s: float | None
    overrun: bool
    point_of_no_return: bool
    blockers: tuple[str, ...]

    @property
    def finished(self) -> bool:
        return self.status in ("done", "skipped")


@dataclass(frozen=True)
class PointOfNoReturnView:
    step: str
    passed_at: datetime | None
    rollback_possible_until: datetime | None


@dataclass(frozen=True)
class CutoverView:
    forecast_end: datetime | None
    fits_window: bool
    point_of_no_return: PointOfNoReturnView | None
    overrides: int
    steps: tuple[StepView, ...]
    archive: dict[str, Any] | None = None  # the witness publisher's status, as summarised

    @property
    def complete(self) -> bool:
        return bool(self.steps) and all(s.finished for s in self.steps)

    @property
    def finished_at(self) -> datetime | None:
        return max((s.actual_end for s in self.steps if s.actual_end), default=None)


def _when(value: Any) -> datetime | None:
    return parse_iso(value) if value else None


def cutover_view(summary: dict[str, Any]) -> CutoverView:
    """The summary as the views read it."""
    ponr = summary.get("point_of_no_return")
    return CutoverView(
        forecast_end=_when(summary.get("forecast_end")),
        fits_window=bool(summary.get("fits_window")),
        point_of_no_return=PointOfNoReturnView(
            step=str(ponr["step"]),
            passed_at=_when(ponr.get("passed_at")),
            rollback_possible_until=_when(ponr.get("rollback_possible_until")),
        )
        if ponr
        else None,
        overrides=int(summary.get("overrides") or 0),
        archive=summary.get("archive"),
        steps=tuple(
            StepView(
                id=s["id"],
                title=s["title"],
                phase=s["phase"],
                owner=s["owner"],
                status=s["status"],
                planned_start=_when(s.get("planned_start")),
                actual_start=_when(s.get("actual_start")),
                actual_end=_when(s.get("actual_end")),
                delay_s=s.get("delay_s"),
                overrun=bool(s.get("overrun")),
                point_of_no_return=bool(s.get("point_of_no_return")),
                blockers=tuple(s.get("blockers") or ()),
            )
            for s in summary["steps"]
        ),
    )
