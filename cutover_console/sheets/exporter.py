"""`cutover export-plan`: the plan as a workbook for reviewers (the client comments in Excel).

Sheet `Steps`: one row per step with its phase, owner, duration, predecessors, planned start and
end from the schedule, gates and sign-offs in words, instructions; frozen header, filters,
column widths. Sheets `People` and `Phases` list those. A hidden sheet `Plan data` keeps, as
YAML, everything the columns do not (the cutover section, DNS, flows, each step's gates and
sign-off as written, and any field added later), so that `cutover import` of the workbook gives
the same plan back, with the reviewers' edits to the columns.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ..plan.editor_schema import exact_duration
from ..plan.loader import PlanDocument
from ..plan.model import Gate, SignOff
from ..plan.schedule import planned
from ..plan.yaml_source import parse_yaml
from .plan_data import DATA_MARK, DATA_SHEET, PEOPLE_SHEET, PHASES_SHEET
from .reader import MAX_CELL_CHARS
from .yaml_out import dump

STEP_COLUMNS = (
    "Step ID", "Title", "Phase", "Kind", "Owner", "Duration", "Predecessors", "Not before",
    "Planned start", "Planned end", "Gates", "Sign-off", "Point of no return", "Instructions",
    "Rollback",
)  # fmt: skip
# The plan keys the Steps, People and Phases columns carry (the rest goes to Plan data).
_STEP_KEYS = frozenset(
    {
        "id", "title", "phase", "owner", "kind", "duration", "depends_on", "not_before",
        "instructions", "rollback", "point_of_no_return",
    }
)  # fmt: skip
_PEOPLE_KEYS = ("id", "name", "roles", "contact", "backup")
_PHASE_KEYS = ("id", "title", "description", "rollback")
_CHUNK = 8_000  # characters of YAML a cell (import refuses cells past MAX_CELL_CHARS)
_TIME_FORMAT = "yyyy-mm-dd hh:mm"

_CHECK_WORDS = {
    "dns_propagated": "DNS shows the new records on {percent:g} % of healthy resolvers",
    "ttl_lowered": "the lowered TTL is served and old long-TTL copies have expired",
    "authority_new": "every authoritative server answers with the new records",
    "flow_healthy": "flow {flow} is healthy on the {side} side",
    "flow_drained": "no arrivals on the {side} side of flow {flow} for {minutes} minutes",
    "sites_on_new": "every site of flow {flow} has been seen on the new side",
    "reconciliation": "reconciliation {reconciliation} matches",
    "probe_ok": "probe {probe} of flow {flow} succeeds",
}


def gate_words(gate: Gate) -> str:
    """`dns-propagated: DNS shows the new records on 100 % of healthy resolvers (app.example)`."""
    template = _CHECK_WORDS.get(gate.check, gate.check.replace("_", " "))
    side = "old" if gate.check == "flow_drained" and gate.side == "new" else gate.side
    text = template.format(**{**gate.model_dump(), "side": side})
    if gate.records:
        text += f" ({', '.join(gate.records)})"
    return f"{gate.id}: {text}" + (f". {gate.description}" if gate.description else "")


def signoff_words(signoff: SignOff) -> str:
    """`2 people: one dba and one approver` / `1 person holding lead or dba`."""
    people = f"{signoff.count} {'person' if signoff.count == 1 else 'people'}"
    if signoff.each_role:
        return f"{people}, covering every role: {' and '.join(signoff.roles)}"
    return f"{people} holding {' or '.join(signoff.roles)}"


def _local(moment: datetime | None, zone: Any) -> datetime | None:
    return None if moment is None else moment.astimezone(zone).replace(tzinfo=None)


def _cell_text(value: Any, key: str, extras: dict[str, Any]) -> Any:
    """Text too long for one imported cell goes to Plan data instead (the cell stays empty)."""
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        extras[key] = value
        return None
    return value


def export_plan(document: PlanDocument, out: Path) -> int:
    """Write the workbook; the number of steps written."""
    import openpyxl

    plan = document.plan
    raw, _ = parse_yaml(document.text, document.file)
    zone = plan.zone
    schedule = planned(plan)
    data: list[tuple[str, Any]] = [
        ("plan", {k: v for k, v in raw.items() if k not in ("people", "phases", "steps")})
    ]
    steps: list[list[Any]] = [list(STEP_COLUMNS)]
    for step, raw_step in zip(plan.steps, raw["steps"], strict=True):
        extras = {k: v for k, v in raw_step.items() if k not in _STEP_KEYS}
        slot = schedule.slots[step.id]
        steps.append(
            [
                step.id,
                _cell_text(step.title, "title", extras),
                step.phase,
                step.kind,
                step.owner,
                exact_duration(step.duration),
                ", ".join(step.depends_on),
                _local(step.not_before, zone),
                _local(slot.start, zone),
                _local(slot.end, zone),
                "\n".join(gate_words(g) for g in step.gates),
                signoff_words(step.signoff) if step.signoff else "",
                "yes" if step.point_of_no_return else "",
                _cell_text(step.instructions, "instructions", extras),
                _cell_text(step.rollback, "rollback", extras),
            ]
        )
        if extras:
            data.append((f"steps:{step.id}", extras))
    # Write-only: rows stream to the file (twice as fast as the in-memory sheet at 5,000 steps).
    book = openpyxl.Workbook(write_only=True)
    _write_sheet(book, "Steps", steps, times=(8, 9, 10), wrap=(11, 12, 14, 15))
    for title, items, keys in (
        (PEOPLE_SHEET, raw["people"], _PEOPLE_KEYS),
        (PHASES_SHEET, raw["phases"], _PHASE_KEYS),
    ):
        table: list[list[Any]] = [[k.capitalize() if k != "id" else "ID" for k in keys]]
        for item in items:
            extras = {k: v for k, v in item.items() if k not in keys}
            row = []
            for key in keys:
                value = item.get(key, "")
                value = ", ".join(value) if isinstance(value, list) else value
                row.append(_cell_text(value, key, extras))
            table.append(row)
            if extras:
                data.append((f"{title.lower()}:{item['id']}", extras))
        _write_sheet(book, title, table, times=(), wrap=())
    hidden = book.create_sheet(DATA_SHEET)
    hidden.sheet_state = "hidden"
    hidden.append([DATA_MARK, "written by cutover export-plan; cutover import reads it back"])
    hidden.append(["Key", "YAML"])
    for key, value in data:
        text = dump(value)
        for at in range(0, len(text), _CHUNK):
            hidden.append([key, text[at : at + _CHUNK]])
    book.save(out)
    return len(plan.steps)


def _write_sheet(
    book: Any, title: str, rows: list[list[Any]], times: tuple[int, ...], wrap: tuple[int, ...]
) -> None:
    """A sheet for people: bold frozen header, filters, widths from the content of the first
    1,000 rows (capped at 60), dates as dates, long text wrapped."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    sheet = book.create_sheet(title)
    widths: dict[int, int] = {}
    for row in rows[:1001]:
        for column, value in enumerate(row, 1):
            if value is not None:
                longest = 16 if column in times else max(map(len, str(value).splitlines() or [""]))
                widths[column] = max(widths.get(column, 0), longest)
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(max(width + 2, 8), 60)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(rows[0]))}{len(rows)}"
    bold = Font(bold=True)
    wrapped = Alignment(wrap_text=True, vertical="top")
    header = []
    for value in rows[0]:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for row in rows[1:]:
        out: list[Any] = []
        for column, value in enumerate(row, 1):
            if value in (None, "") or (column not in times and column not in wrap):
                out.append(value)
                continue
            cell = WriteOnlyCell(sheet, value=value)
            if column in times:
                cell.number_format = _TIME_FORMAT
            else:
                cell.alignment = wrapped
            out.append(cell)
        sheet.append(out)
