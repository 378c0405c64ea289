"""The workbook `cutover export-plan` writes, read back: its People and Phases sheets, and the
hidden `Plan data` sheet holding as YAML what the Steps columns do not (chunked: a cell holds at
most 32,767 characters, and import refuses cells past reader.MAX_CELL_CHARS). It is outside
input like any sheet: the YAML is read by the plan's own hardened parser."""

from __future__ import annotations

import re
from typing import Any

from ..plan.problems import PlanInvalid
from .problems import SheetProblem, a1
from .reader import Workbook
from .values import raw_text

DATA_SHEET = "Plan data"
PEOPLE_SHEET = "People"
PHASES_SHEET = "Phases"
DATA_MARK = "cutover-console plan data"


def read_plan_data(book: Workbook) -> tuple[dict[str, Any] | None, list[SheetProblem]]:
    """Key → value of the Plan data sheet (None when the workbook has none), and problems."""
    table = book.others.get(DATA_SHEET)
    if table is None or not table.rows or not table.rows[0]:
        return None, []
    if table.rows[0][0] != DATA_MARK:
        return None, []
    from ..plan.yaml_source import parse_yaml

    chunks: dict[str, list[str]] = {}
    for row in table.rows[2:]:
        if len(row) >= 2 and isinstance(row[0], str) and isinstance(row[1], str):
            chunks.setdefault(row[0], []).append(row[1])
    out: dict[str, Any] = {}
    problems: list[SheetProblem] = []
    for key, parts in chunks.items():
        try:
            value, _ = parse_yaml("".join(parts), f"{book.file}:{DATA_SHEET}")
        except PlanInvalid as exc:
            first = exc.problems[0]
            problems.append(
                SheetProblem(book.file, a1(DATA_SHEET, 3), f"{key}: {first.message}", first.hint)
            )
            continue
        out[key] = value
    return out, problems


def side_table(
    book: Workbook, data: dict[str, Any] | None, name: str, fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The People or Phases sheet: a header row, then one item a row, with its fields from
    Plan data added."""
    table = book.others.get(name)
    if table is None or not table.rows:
        return []
    headers = [str(h).strip().lower() if h is not None else "" for h in table.rows[0]]
    items: list[dict[str, Any]] = []
    for row in table.rows[1:]:
        item: dict[str, Any] = {}
        for key, value in zip(headers, row, strict=False):
            if key in fields and value not in (None, ""):
                item[key] = value if isinstance(value, str) and key != "id" else raw_text(value)
        if "roles" in item:
            item["roles"] = [r.strip() for r in re.split(r"[,;]", str(item["roles"])) if r]
        if item:
            extra = (data or {}).get(f"{name.lower()}:{item.get('id')}")
            if isinstance(extra, dict):
                item.update(extra)
            items.append(item)
    return items
