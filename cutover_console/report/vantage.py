"""The report's "Propagation by country and ISP": for each country and network the vantage
points saw, when the old copies were predicted to expire against when the points were actually
seen new, from the journal's `dns.vantage` events alone (the same rows every view folds)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..clock import parse_ts
from ..journal import Event
from ..journal import events as ev
from ..plan.timeparse import format_duration
from ..runbook.fold import CutoverState
from ..runbook.vantage_summary import aggregate, overall


def _when(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _difference(predicted: datetime | None, actual: datetime | None) -> str:
    if predicted is None or actual is None:
        return ""
    delta = actual - predicted
    sign = "+" if delta.total_seconds() >= 0 else "−"
    seconds = abs(delta.total_seconds())
    return f"{sign}{int(seconds)} s" if seconds < 120 else f"{sign}{format_duration(abs(delta))}"


TableRows = tuple[list[str], list[list[str]]]


def vantage_section(state: CutoverState, events: list[Event]) -> tuple[list[Any], list[TableRows]]:
    """The section's paragraphs and tables (headers, rows); document.py lays them out."""
    paragraphs: list[Any] = []
    tables: list[TableRows] = []
    predicted: dict[tuple[str, str], datetime] = {}  # the last prediction while still old
    actual: dict[tuple[str, str], datetime] = {}  # first seen new
    faults = 0
    for event in events:
        p = event.payload
        if event.kind == ev.DNS_VANTAGE:
            key = (str(p["record"]), str(p["point"]))
            if p.get("status") in ("old", "mixed"):
                flips = _when(p.get("flips_by"))
                if flips is not None:
                    predicted[key] = flips
            elif p.get("status") == "new":
                actual.setdefault(key, parse_ts(event.ts))
        elif event.kind == ev.DNS_VANTAGE_FAULT and event.payload.get("active"):
            faults += 1
    rows = list(state.signals.dns_vantage.values())
    if not rows:
        paragraphs.append("No vantage point reported in this journal.")
        return paragraphs, tables
    now = state.last_at or state.created_at
    answered, new, percent = overall(rows)
    paragraphs.append(
        f"{answered} vantage point(s) answered (Globalping probes and SSH hosts); {new} "
        f"({percent:g} %) serve the new value at the end of the journal; {faults} fault(s) "
        "were reported along the way. Predicted: when the last old copy each point reported was "
        "due to expire; actual: when the point was first seen new."
    )
    located = {(str(r["record"]), str(r["point"])): r for r in rows}
    for by, title in (("country", "country"), ("asn", "network (ASN)")):
        table = []
        for group in aggregate(rows, now, by):
            keys = [
                k
                for k, r in located.items()
                if (
                    str(r.get("country") or "??")
                    if by == "country"
                    else (f"AS{r.get('asn')}" if r.get("asn") else str(r.get("network") or "?"))
                )
                == group.key
            ]
            predicted_all = max((predicted[k] for k in keys if k in predicted), default=None)
            flipped = [actual[k] for k in keys if k in actual]
            actual_all = max(flipped) if flipped and len(flipped) == len(keys) else None
            table.append(
                [
                    group.label,
                    str(group.points),
                    f"{group.percent_new:g}",
                    _at(state, predicted_all),
                    _at(state, actual_all) or ("not all new" if keys else ""),
                    _difference(predicted_all, actual_all),
                ]
            )
        headers = [title, "points", "% new", "predicted all new", "actually all new"]
        tables.append(([*headers, "difference"], table[:100]))
    points = []
    for key, row in sorted(located.items())[:300]:
        points.append(
            [
                str(row["point"]),
                f"{row.get('country', '')} {row.get('city', '')}".strip(),
                str(row.get("network", "")),
                str(row["record"]),
                str(row["status"]),
                _at(state, predicted.get(key)),
                _at(state, actual.get(key)),
                _difference(predicted.get(key), actual.get(key)),
            ]
        )
    headers = ["point", "where", "network", "record", "now", "predicted", "seen new"]
    tables.append(([*headers, "difference"], points))
    return paragraphs, tables


def _at(state: CutoverState, when: datetime | None) -> str:
    if when is None:
        return ""
    return when.astimezone(state.plan.zone).strftime("%a %H:%M:%S")
