"""The typed view model: what the clock bar and the checklist show, read once from the status
summary (`runbook.summary.status_summary`, the same one `cutover status --json` prints), and what
the DNS and flows panes show, read from the folded signals, into dataclasses, so no view indexes
a JSON-shaped dict. Times stay aware datetimes in the cutover's
zone; formatting is `timestamps`' job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..runbook.signals import Signals
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


# -- the DNS and flows panes -------------------------------------------------------------------
# Signal payloads are read once into these, tolerantly: a field of the wrong type in a journaled
# payload shows as unknown in its cell instead of breaking the pane.


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _stamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list | tuple) else ()


@dataclass(frozen=True)
class VerdictView:
    """What one resolver last answered for one record."""

    resolver: str
    status: str
    answers: tuple[str, ...]
    observed_at: datetime | None
    ttl: float | None
    flips_by: datetime | None
    flags: tuple[str, ...]

    @classmethod
    def of(cls, resolver: str, p: dict[str, Any]) -> VerdictView:
        return cls(
            resolver=resolver,
            status=_str(p.get("status"), "?"),
            answers=_strs(p.get("answers")),
            observed_at=_stamp(p.get("observed_at")),
            ttl=_num(p.get("ttl")),
            flips_by=_stamp(p.get("flips_by")),
            flags=_strs(p.get("flags")),
        )


@dataclass(frozen=True)
class RecordView:
    """One record's propagation across the resolvers, and what its authority says."""

    key: str
    authority: str
    percent_new: float | None
    new: int
    healthy: int
    failed: int
    eta: datetime | None


class DnsView:
    """The DNS pane's model at one journal head: records in order, each record's verdicts
    sorted by resolver (read when that record is shown: thousands of verdicts, one shown)."""

    def __init__(self, signals: Signals) -> None:
        self.updated_at = signals.updated_at
        self.records = tuple(
            RecordView(
                key=key,
                authority=_str(signals.dns_authority.get(key, {}).get("status")),
                percent_new=_num(summary.get("percent_new")),
                new=int(_num(summary.get("new")) or 0),
                healthy=int(_num(summary.get("healthy")) or 0),
                failed=int(_num(summary.get("failed")) or 0),
                eta=_stamp(summary.get("eta")),
            )
            for key, summary in sorted(signals.dns_records.items())
        )
        self._raw: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for (record, resolver), verdict in signals.dns_verdicts.items():  # one pass, not per record
            self._raw.setdefault(record, []).append((resolver, verdict))
        self._verdicts: dict[str, tuple[VerdictView, ...]] = {}

    def statuses(self, record: str) -> list[str]:
        return [_str(v.get("status"), "?") for _, v in self._raw.get(record, [])]

    def verdicts(self, record: str) -> tuple[VerdictView, ...]:
        found = self._verdicts.get(record)
        if found is None:
            found = self._verdicts[record] = tuple(
                VerdictView.of(resolver, p)
                for resolver, p in sorted(dict(self._raw.get(record, [])).items())
            )
        return found


@dataclass(frozen=True)
class SideView:
    """A flow's heartbeat on one side (old or new server)."""

    status: str
    last_seen: datetime | None


@dataclass(frozen=True)
class SiteView:
    """Where one client site's data goes."""

    site: str
    status: str
    last_old: datetime | None
    first_new: datetime | None
    last_new: datetime | None


@dataclass(frozen=True)
class FlowsView:
    sides: dict[tuple[str, str], SideView]
    sites: dict[str, tuple[SiteView, ...]]  # by flow, sorted by site
    reconciliations: tuple[tuple[str, str], ...]  # (name, status), sorted


def flows_view(signals: Signals) -> FlowsView:
    sites: dict[str, list[SiteView]] = {}
    for (flow, site), p in sorted(signals.flow_sites.items()):
        sites.setdefault(flow, []).append(
            SiteView(
                site=site,
                status=_str(p.get("status"), "?"),
                last_old=_stamp(p.get("last_old")),
                first_new=_stamp(p.get("first_new")),
                last_new=_stamp(p.get("last_new")),
            )
        )
    return FlowsView(
        sides={
            key: SideView(status=_str(p.get("status"), "?"), last_seen=_stamp(p.get("last_seen")))
            for key, p in signals.flow_sides.items()
        },
        sites={flow: tuple(rows) for flow, rows in sites.items()},
        reconciliations=tuple(
            (name, _str(p.get("status"), "?"))
            for name, p in sorted(signals.reconciliations.items())
        ),
    )
