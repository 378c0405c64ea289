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

import re
import unicodedata
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
from .problems import SheetInvalid, SheetProblem, a1, column_letters, shown
from .reader import Workbook, read_workbook
from .yaml_out import plan_yaml

DATA_SHEET = "Plan data"
PEOPLE_SHEET = "People"
PHASES_SHEET = "Phases"
DATA_MARK = "cutover-console plan data"
_IDENT = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_STEP_ORDER = (
    "id", "title", "phase", "owner", "kind", "duration", "depends_on", "not_before",
    "instructions", "gates", "signoff", "rollback", "point_of_no_return", "action",
)  # fmt: skip


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


def slug(text: str, limit: int = 48) -> str:
    """`Back up the DB (full)` → `back-up-the-db-full`; '' when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return out[:limit].rstrip("-")


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate, n = base[: 64 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def _raw_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


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

    # --- the workbook written by export-plan ----------------------------------------------------

    def _plan_data(self) -> dict[str, Any] | None:
        table = self.book.others.get(DATA_SHEET)
        if table is None or not table.rows or not table.rows[0]:
            return None
        if table.rows[0][0] != DATA_MARK:
            return None
        from ..plan.yaml_source import parse_yaml

        chunks: dict[str, list[str]] = {}
        for row in table.rows[2:]:
            if len(row) >= 2 and isinstance(row[0], str) and isinstance(row[1], str):
                chunks.setdefault(row[0], []).append(row[1])
        out: dict[str, Any] = {}
        for key, parts in chunks.items():
            try:
                value, _ = parse_yaml("".join(parts), f"{self.file}:{DATA_SHEET}")
            except PlanInvalid as exc:
                self.problems.append(
                    SheetProblem(self.file, a1(DATA_SHEET, 3), f"{key}: {exc.problems[0].message}")
                )
                continue
            out[key] = value
        return out

    def _side_table(self, name: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        """The People or Phases sheet of an exported plan: header row, then one item a row."""
        table = self.book.others.get(name)
        if table is None or not table.rows:
            return []
        headers = [str(h).strip().lower() if h is not None else "" for h in table.rows[0]]
        items: list[dict[str, Any]] = []
        for row in table.rows[1:]:
            item: dict[str, Any] = {}
            for key, value in zip(headers, row, strict=False):
                if key in fields and value not in (None, ""):
                    text = value if isinstance(value, str) and key != "id" else _raw_text(value)
                    item[key] = text
            if "roles" in item:
                item["roles"] = [r.strip() for r in re.split(r"[,;]", str(item["roles"])) if r]
            if item:
                extra = (self.data or {}).get(f"{name.lower()}:{item.get('id')}")
                if isinstance(extra, dict):
                    item.update(extra)
                items.append(item)
        return items

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
                ids[raw] = _unique(base, taken)
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
            found = cells.links(raw, set(ids))
        except cells.CellError as exc:
            self.error(row, "predecessors", exc.message, exc.hint, raw=raw)
            return []
        out: list[str] = []
        for link in found:
            target = ids.get(link.target)
            if target is None:
                known = ", ".join(list(ids)[:8])
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
        people = self._side_table(PEOPLE_SHEET, ("id", "name", "roles", "contact", "backup"))
        phases = self._side_table(PHASES_SHEET, ("id", "title", "description", "rollback"))
        person_ids = {p.get("id") for p in people}
        roles = {r for p in people for r in p.get("roles", [])}
        phase_ids = {p.get("id") for p in phases}
        by_name: dict[str, str] = {}
        taken = {str(i) for i in person_ids}
        made: dict[str, dict[str, Any]] = {}
        team_roles: dict[str, str] = {}
        phase_of: dict[str, str] = {}
        for position, (step, row) in enumerate(zip(steps, rows, strict=False)):
            team = step.pop("_team", None)
            role = None
            if team is not None:
                text = _raw_text(team)
                role = text if text in roles else team_roles.get(text)
                if role is None:
                    role = slug(text) or "team"
                    team_roles[text] = role
            owners = step.pop("owner")
            owner_id = None
            if owners is not None:
                names = [n.strip() for n in re.split(r"[,;]", _raw_text(owners)) if n.strip()]
                names = [re.sub(r"\s*\[[^\]]*\]$", "", n) for n in names]  # Alice[50%]
                for index, name in enumerate(names):
                    if name in person_ids or name in roles:
                        pid = name
                    elif name in by_name:
                        pid = by_name[name]
                    else:
                        local = name.split("@")[0] if "@" in name else name
                        pid = _unique(slug(local) or "person", taken)
                        by_name[name] = pid
                        made[pid] = {
                            "id": pid,
                            "name": local if "@" in name else name,
                            "roles": [],
                            "contact": name if "@" in name else placeholder("phone or e-mail"),
                        }
                    if pid in made and role and role not in made[pid]["roles"]:
                        made[pid]["roles"].append(role)
                    if index == 0:
                        owner_id = pid
                    else:
                        self.warn(
                            f"{self.cell(row.number, row.column('owner'))}",
                            f"a step has one owner: {shown(name, 30)} is not kept as one",
                            "the first name is the owner; name the others in the instructions",
                        )
            step["owner"] = owner_id or role or "lead"
            phase = step.pop("phase")
            if phase is None:
                step["phase"] = "cutover"
                phase_of.setdefault("cutover", "Cutover")
            elif phase in phase_ids:
                step["phase"] = phase
            else:
                pid = slug(phase) or "phase"
                step["phase"] = pid
                phase_of.setdefault(pid, phase)
            steps[position] = {k: step[k] for k in _ordered(step)}
        for pid, title in phase_of.items():
            if pid not in phase_ids:
                phases.append({"id": pid, "title": title})
        for person in made.values():
            person["roles"] = person["roles"] or ["owner"]
            people.append(person)
        held = {r for p in people for r in p.get("roles", [])}
        for team, role in team_roles.items():
            if role not in held:
                pid = _unique(f"{role}-member", taken)
                people.append(
                    {
                        "id": pid,
                        "name": placeholder(f"who is in the team {team}"),
                        "roles": [role],
                        "contact": placeholder("phone or e-mail"),
                    }
                )
        if self.data is None and "lead" not in held:
            lead_id = "lead" if "lead" not in taken else _unique("cutover-lead", taken)
            people.insert(
                0,
                {
                    "id": lead_id,
                    "name": placeholder("who leads the cutover"),
                    "roles": ["lead"],
                    "contact": placeholder("phone or e-mail"),
                },
            )
        return people, phases

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
            steps[position] = {k: step[k] for k in _ordered(step)}
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
        finish, if later)."""
        from ..plan.model import Plan
        from ..plan.schedule import planned

        try:
            model = Plan.model_validate(plan)
        except Exception:
            return  # the loader names what is wrong, with the rows
        end = planned(model).end.replace(tzinfo=None)
        finish = getattr(self, "_finish", None)
        if finish is not None and finish > end:
            end = finish
        if end.minute or end.second:
            end = end.replace(minute=0, second=0) + timedelta(hours=1)
        start = cells.when(plan["cutover"]["window"]["start"])
        plan["cutover"]["window"]["end"] = _time_text(max(end, start + timedelta(hours=1)))


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
