"""`cutover import`: a runbook spreadsheet → a plan file that `cutover check` accepts.

Every row becomes a step; every problem names its cell, header and raw value, all at once. What
the plan cannot express (start-to-start links, lags, a second owner) is kept as a comment on the
step and reported, never dropped silently; what the sheet cannot say (contacts, who leads, the
client) is written as placeholders that `cutover check` lists until they are filled in.

A workbook written by `cutover export-plan` carries its plan's other sections in a hidden
`Plan data` sheet, and its people and phases in their own sheets: importing it gives the plan
back, with the Steps sheet's edits.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..plan.editor_schema import exact_duration
from ..plan.placeholders import placeholder
from ..plan.problems import PlanInvalid
from . import cells
from .columns import FIELDS, Column, could_be, field_of, header_score, header_unit
from .ids import ordered_step, slug, unique
from .plan_data import DATA_SHEET, PEOPLE_SHEET, PHASES_SHEET, read_plan_data, side_table
from .problems import SheetInvalid, SheetProblem, a1, column_letters, shown
from .reader import Workbook, read_workbook
from .roster import roster
from .values import raw_text as _raw_text
from .yaml_out import plan_yaml

_IDENT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass
class ImportOptions:
    sheet: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    timezone: str | None = None
    start: str | None = None
    schema_ref: str = "plan.schema.json"


@dataclass
class Imported:
    text: str
    steps: int
    warnings: list[SheetProblem]
    placeholders: int


@dataclass
class _Row:
    number: int  # the Excel row
    values: dict[str, tuple[int, Any]]  # field → (column, raw value)

    def get(self, name: str) -> Any:
        found = self.values.get(name)
        return None if found is None else found[1]

    def column(self, name: str) -> int:
        return self.values[name][0]


class _Import:
    def __init__(self, book: Workbook, options: ImportOptions) -> None:
        self.book = book
        self.table = book.primary
        self.file = book.file
        self.options = options
        self.problems: list[SheetProblem] = list(self.table.problems)
        self.warnings: list[SheetProblem] = list(self.table.notes)
        self.columns: dict[str, Column] = {}
        self.data = self._plan_data()

    # --- reporting ----------------------------------------------------------------------------

    def cell(self, row: int, column: int | None = None) -> str:
        return a1(self.table.sheet, row, column)

    def error(
        self, row: _Row | int, name: str | None, message: str, hint: str = "", raw: object = None
    ) -> None:
        number = row.number if isinstance(row, _Row) else row
        column = row.column(name) if isinstance(row, _Row) and name in row.values else None
        header = self.columns[name].header if name in self.columns else ""
        self.problems.append(
            SheetProblem(
                self.file, self.cell(number, column), message, hint, header=header, raw=raw
            )
        )

    def warn(self, where: str, message: str, hint: str = "") -> None:
        self.warnings.append(SheetProblem(self.file, where, message, hint, severity="warning"))

    def _plan_data(self) -> dict[str, Any] | None:
        data, problems = read_plan_data(self.book)
        self.problems.extend(problems)
        return data

    def _side_table(self, name: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        return side_table(self.book, self.data, name, fields)

    # --- headers ---------------------------------------------------------------------------------

    def header_row(self) -> int:
        rows = self.table.rows
        for index, row in enumerate(rows[:20]):
            mapped = any(isinstance(v, str) and v in self.options.mapping for v in row)
            if header_score(row) >= 2 or mapped:
                return index + 1
        for index, row in enumerate(rows[:20]):
            if any(v not in (None, "") for v in row):
                return index + 1
        raise SheetInvalid(
            [SheetProblem(self.file, self.cell(1), "the sheet is empty", "give a header row")]
        )

    def read_headers(self, number: int) -> None:
        for index, value in enumerate(self.table.rows[number - 1]):
            if value is None or value == "":
                continue
            header = _raw_text(value)
            name = field_of(header, self.options.mapping)
            where = self.cell(number, index + 1)
            if name is None:
                near = could_be(header)
                maps = " or ".join(f"--map {shown(header, 30)}={f}" for f in near) or (
                    f"--map {shown(header, 30)}=FIELD (fields: {', '.join(FIELDS)})"
                )
                self.warn(
                    where,
                    f"the column {shown(header, 40)} is not imported"
                    + (f"; it could map to {', '.join(near)}" if near else ""),
                    f"to import it: {maps}",
                )
                continue
            if name == "ignore":
                continue
            if name in self.columns:
                first = self.columns[name]
                self.problems.append(
                    SheetProblem(
                        self.file,
                        where,
                        f"a second column for {name} (the first is "
                        f"{column_letters(first.index)} {shown(first.header, 30)})",
                        f"map one of them elsewhere: --map {shown(header, 30)}=ignore",
                        header=header,
                    )
                )
                continue
            self.columns[name] = Column(index, header, name, header_unit(header))
        if "title" not in self.columns:
            found = ", ".join(
                shown(_raw_text(v), 30) for v in self.table.rows[number - 1] if v not in (None, "")
            )
            raise SheetInvalid(
                [
                    *self.problems,
                    SheetProblem(
                        self.file,
                        self.cell(number),
                        "no column for the step's title (Title, Name or Task Name)",
                        f"the headers are: {found or 'none'}; or use --map HEADER=title",
                    ),
                ]
            )

    def rows(self, header: int) -> list[_Row]:
        out: list[_Row] = []
        for number in range(header + 1, len(self.table.rows) + 1):
            raw = self.table.rows[number - 1]
            values: dict[str, tuple[int, Any]] = {}
            for name, column in self.columns.items():
                value = raw[column.index] if column.index < len(raw) else None
                if isinstance(value, str) and not value.strip():
                    value = None
                if value is not None:
                    values[name] = (column.index + 1, value)
            if values:
                out.append(_Row(number, values))
        return out

    # --- the plan --------------------------------------------------------------------------------

    def run(self) -> tuple[dict[str, Any], list[list[str]]]:
        header = self.header_row()
        self.read_headers(header)
        rows = self.rows(header)
        if not rows:
            raise SheetInvalid(
                [SheetProblem(self.file, self.cell(header + 1), "no steps below the header")]
            )
        zone = self.zone()
        steps, comments = self.steps(rows)
        people, phases = self.people_and_phases(rows, steps)
        cutover = self.cutover(rows, steps, zone)
        if self.problems:
            raise SheetInvalid(self.problems)
        plan: dict[str, Any] = {"version": 1, "cutover": cutover}
        plan["people"] = people
        plan["phases"] = phases
        plan["steps"] = steps
        for key, value in (self.data or {}).get("plan", {}).items():
            if key not in plan or key == "version":
                plan[key] = value
        if self.data is None:
            self.fit_window(plan)
        return plan, comments

    def zone(self) -> ZoneInfo | None:
        name = self.options.timezone
        if self.data is not None:
            name = name or (self.data.get("plan") or {}).get("cutover", {}).get("timezone")
        if name is None:
            self.problems.append(
                SheetProblem(
                    self.file,
                    "",
                    "the plan needs the client's time zone, and the sheet's dates are read in it",
                    "give --timezone ZONE, an IANA name such as America/Chicago",
                )
            )
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.problems.append(
                SheetProblem(
                    self.file,
                    "",
                    f"unknown time zone {shown(name, 40)}",
                    "--timezone takes an IANA name such as Europe/Berlin",
                )
            )
            return None

    def step_ids(self, rows: list[_Row]) -> dict[str, str]:
        """Raw id (as predecessors write it) → step id. Without an id column, the raw id is
        the row's number among the steps (as Smartsheet's predecessors count)."""
        ids: dict[str, str] = {}
        taken: set[str] = set()
        first_row: dict[str, int] = {}
        for ordinal, row in enumerate(rows, 1):
            raw = _raw_text(row.get("id")) if row.get("id") is not None else str(ordinal)
            if raw in first_row:
                self.error(row, "id", f"duplicate id (also on row {first_row[raw]})", raw=raw)
                continue
            first_row[raw] = row.number
            keep = _IDENT.match(raw) and (self.data is not None or not raw.isdigit())
            if keep and raw not in taken:
                taken.add(raw)
                ids[raw] = raw
            else:
                base = slug(_raw_text(row.get("title") or "")) or f"step-{slug(raw) or ordinal}"
                ids[raw] = unique(base, taken)
            row.values["_raw_id"] = (0, raw)
        return ids

    def steps(self, rows: list[_Row]) -> tuple[list[dict[str, Any]], list[list[str]]]:
        ids = self.step_ids(rows)
        steps: list[dict[str, Any]] = []
        comments: list[list[str]] = []
        missing_duration: list[str] = []
        phase = None
        for row in rows:
            raw_id = row.get("_raw_id")
            if raw_id is None:
                continue
            note = [f"{self.table.sheet}!{row.number}"]
            step: dict[str, Any] = {"id": ids[raw_id]}
            title = row.get("title")
            if title is None:
                self.error(row, None, "a step needs a title", "fill in the title cell")
                continue
            step["title"] = _raw_text(title)
            phase = row.get("phase") if row.get("phase") is not None else phase
            step["phase"] = _raw_text(phase) if phase is not None else None
            step["owner"] = row.get("owner")
            step["_team"] = row.get("team")
            if row.get("kind") is not None:
                self.parse(row, "kind", cells.kind, step, "kind")
            value = row.get("duration")
            if value is None:
                missing_duration.append(f"{row.number}")
                step["duration"] = "0s"
            else:
                parsed = self.parse(row, "duration", self.duration)
                if parsed is not None:
                    step["duration"] = exact_duration(parsed)
            step["depends_on"] = self.links(row, ids, note)
            for name in ("not_before", "start", "finish"):
                if row.get(name) is not None:
                    moment = self.parse(row, name, cells.when)
                    if moment is not None:
                        step[f"_{name}"] = moment
            for name in ("instructions", "rollback"):
                if row.get(name) is not None:
                    step[name] = str(row.get(name))
            if row.get("point_of_no_return") is not None:
                self.parse(row, "point_of_no_return", cells.yes_no, step, "point_of_no_return")
            extra = (self.data or {}).get(f"steps:{step['id']}")
            if isinstance(extra, dict):
                step.update({k: v for k, v in extra.items() if k not in step})
            steps.append(step)
            comments.append(note)
        if missing_duration and "duration" in self.columns:
            self.warn(
                self.cell(int(missing_duration[0]), self.columns["duration"].index + 1),
                f"{len(missing_duration)} step(s) have no duration (rows "
                f"{', '.join(missing_duration[:10])}): written as 0s",
                "fill them in",
            )
        elif missing_duration:
            self.warn("", "the sheet has no duration column: every step is written as 0s")
        self.cycles(steps, rows)
        return steps, comments

    def duration(self, value: object) -> timedelta:
        return cells.duration(value, self.columns["duration"].unit)

    def parse(
        self,
        row: _Row,
        name: str,
        parser: Any,
        into: dict[str, Any] | None = None,
        key: str = "",
    ) -> Any:
        raw = row.get(name)
        try:
            value = parser(raw)
        except cells.CellError as exc:
            self.error(row, name, exc.message, exc.hint, raw=raw)
            return None
        if into is not None:
            into[key] = value
        return value

    def links(self, row: _Row, ids: dict[str, str], note: list[str]) -> list[str]:
        raw = row.get("predecessors")
        if raw is None:
            return []
        try:
            found = cells.links(raw, ids.keys())
        except cells.CellError as exc:
            self.error(row, "predecessors", exc.message, exc.hint, raw=raw)
            return []
        out: list[str] = []
        for link in found:
            target = ids.get(link.target)
            if target is None:
                known = ", ".join(itertools.islice(ids, 8))
                self.error(
                    row,
                    "predecessors",
                    f"no step with the id {shown(link.target, 30)}",
                    f"ids in this sheet: {known}{' …' if len(ids) > 8 else ''}",
                    raw=raw,
                )
                continue
            if target == ids.get(_raw_text(row.get("_raw_id"))):
                self.error(row, "predecessors", "a step cannot follow itself", raw=raw)
                continue
            if not link.plain:
                what = f"{link.target}{link.type}{link.lag}"
                said = f"the link {what} is written as 'after {target}'"
                why = "the plan has finish-to-start links without lag"
                note.append(f"{said} ({why})")
                self.warn(
                    f"{self.cell(row.number, row.column('predecessors'))}",
                    f"{said}: {why}",
                    "reorder or split the steps if the overlap or the wait matters",
                )
            if target not in out:
                out.append(target)
        return out

    def cycles(self, steps: list[dict[str, Any]], rows: list[_Row]) -> None:
        graph = {s["id"]: s["depends_on"] for s in steps}
        row_of = {s["id"]: r.number for s, r in zip(steps, rows, strict=False)}
        state: dict[str, int] = {}
        reported = 0
        for start in graph:
            if state.get(start):
                continue
            stack: list[tuple[str, Iterable[str]]] = [(start, iter(graph[start]))]
            path = [start]
            state[start] = 1
            while stack:
                node, deps = stack[-1]
                nxt = next(iter(deps), None)
                if nxt is None:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                    continue
                if nxt not in graph:
                    continue
                if state.get(nxt) == 1 and reported < 20:
                    ring = path[path.index(nxt) :]
                    shown_ring = " → ".join(
                        f"{s} ({self.table.sheet}!{row_of.get(s, '?')})" for s in [*ring, nxt]
                    )
                    self.problems.append(
                        SheetProblem(
                            self.file,
                            self.cell(row_of.get(nxt, 0)),
                            f"the predecessors form a cycle: {shown_ring}",
                            "remove one of these links",
                        )
                    )
                    reported += 1
                elif not state.get(nxt):
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, iter(graph[nxt])))

    def people_and_phases(
        self, rows: list[_Row], steps: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Owners become people, teams roles, streams phases (see roster.py)."""
        people = self._side_table(PEOPLE_SHEET, ("id", "name", "roles", "contact", "backup"))
        phases = self._side_table(PHASES_SHEET, ("id", "title", "description", "rollback"))
        owner_cells = [
            self.cell(row.number, row.column("owner")) if "owner" in row.values else ""
            for row in rows
        ]
        return roster(steps, owner_cells, people, phases, self.data is None, self.warn)

    def cutover(
        self, rows: list[_Row], steps: list[dict[str, Any]], zone: ZoneInfo | None
    ) -> dict[str, Any]:
        starts = [s.pop("_start") for s in steps if "_start" in s]
        finishes = [s.pop("_finish") for s in steps if "_finish" in s]
        anchors = list(starts)
        for position, step in enumerate(steps):
            if "_not_before" in step:
                anchors.append(step["_not_before"])
                step["not_before"] = _time_text(step.pop("_not_before"))
            for key in list(step):
                if key.startswith("_"):
                    del step[key]
            steps[position] = ordered_step(step)
        if self.data is not None:
            return dict((self.data.get("plan") or {}).get("cutover") or {})
        begin: datetime | None = None
        if self.options.start is not None:
            try:
                begin = cells.when(self.options.start)
            except cells.CellError as exc:
                self.problems.append(
                    SheetProblem(self.file, "", f"--start: {exc.message}", exc.hint)
                )
        else:
            begin = min(anchors) if anchors else None
            if begin is None:
                self.problems.append(
                    SheetProblem(
                        self.file,
                        "",
                        "the sheet has no dates, so the cutover's start is unknown",
                        "give --start 'YYYY-MM-DD HH:MM' (in the --timezone zone)",
                    )
                )
        stem = Path(self.file).stem
        self._finish = max(finishes) if finishes else None
        return {
            "id": slug(stem) or "imported-cutover",
            "name": stem,
            "client": placeholder("the client's name"),
            "timezone": self.options.timezone or "UTC",
            "window": {
                "start": _time_text(begin) if begin else "1970-01-01 00:00",
                "end": _time_text(begin + timedelta(hours=1)) if begin else "1970-01-01 01:00",
            },
            "description": f"Imported from {self.file} (sheet {self.table.sheet}) by cutover "
            "import.",
        }

    def fit_window(self, plan: dict[str, Any]) -> None:
        """The window ends at the planned end rounded up to the hour (or the sheet's latest
        finish, if later). The same forward pass as plan.schedule, on the plain data: the
        loader validates the plan once, after this."""
        from ..plan.timeparse import parse_duration

        zone = ZoneInfo(plan["cutover"]["timezone"])

        def aware(text: str) -> datetime:
            return cells.when(text).replace(tzinfo=zone)

        start = aware(plan["cutover"]["window"]["start"])
        by_id = {step["id"]: step for step in plan["steps"]}
        deps = {i: [d for d in s.get("depends_on", []) if d in by_id] for i, s in by_id.items()}
        waiting = {i: len(d) for i, d in deps.items()}
        after: dict[str, list[str]] = {i: [] for i in by_id}
        for step_id, before in deps.items():
            for dep in before:
                after[dep].append(step_id)
        ready = [i for i, n in waiting.items() if n == 0]
        ends: dict[str, datetime] = {}
        while ready:  # Kahn's order; a cycle was refused before this
            step_id = ready.pop()
            step = by_id[step_id]
            begin = max([start, *(ends[d] for d in deps[step_id])])
            if step.get("not_before"):
                begin = max(begin, aware(step["not_before"]))
            ends[step_id] = begin + parse_duration(step["duration"])
            for later in after[step_id]:
                waiting[later] -= 1
                if waiting[later] == 0:
                    ready.append(later)
        end = max(ends.values(), default=start).astimezone(zone).replace(tzinfo=None)
        finish = getattr(self, "_finish", None)
        if finish is not None and finish > end:
            end = finish
        if end.minute or end.second:
            end = end.replace(minute=0, second=0) + timedelta(hours=1)
        floor = start.replace(tzinfo=None) + timedelta(hours=1)
        plan["cutover"]["window"]["end"] = _time_text(max(end, floor))


def _time_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S" if moment.second else "%Y-%m-%d %H:%M")


def import_plan(path: Path, options: ImportOptions) -> Imported:
    """Read the spreadsheet at `path`; the plan's YAML, checked by the plan loader. Raises
    SheetInvalid with every problem (each naming its cell)."""
    from ..plan.loader import load_plan_text

    book = read_workbook(path, options.sheet, (PEOPLE_SHEET, PHASES_SHEET, DATA_SHEET))
    job = _Import(book, options)
    plan, comments = job.run()
    header = [
        f"Imported by `cutover import` from {book.file} (sheet {book.primary.sheet}).",
        "Values starting with 'FILL IN:' are placeholders: `cutover check` lists them until "
        "they are filled in.",
    ]
    text = plan_yaml(plan, comments, header, options.schema_ref)
    try:
        document = load_plan_text(text, "<imported>")
    except PlanInvalid as exc:
        raise SheetInvalid(_located(exc, comments, book.file)) from None
    placeholders = sum(1 for w in document.warnings if "placeholder" in w.message)
    return Imported(text, len(plan["steps"]), job.warnings, placeholders)


def _located(exc: PlanInvalid, comments: list[list[str]], file: str) -> list[SheetProblem]:
    """The plan loader's problems, each pointed at the row it came from when it is a step's."""
    from ..plan.problems import format_path

    out: list[SheetProblem] = []
    for problem in exc.found:
        where = ""
        if len(problem.path) >= 2 and problem.path[0] == "steps":
            index = problem.path[1]
            if isinstance(index, int) and index < len(comments):
                where = comments[index][0]  # Sheet!row
        out.append(
            SheetProblem(
                file, where, f"{format_path(problem.path)}: {problem.message}", problem.hint
            )
        )
    return out
