"""Spreadsheets built by the tests (openpyxl and the csv module), as the tools people use write
them: the Cutover.com bulk-upload template, an MS Project export and a Smartsheet export, each as
XLSX and CSV, with the plan each should become; and hostile workbooks made by hand from XML."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

# The runbook every format describes: id, title, phase, minutes, predecessors (by index).
RUNBOOK = [
    ("freeze-changes", "Freeze changes", "Prepare", 30, []),
    ("full-backup", "Full backup", "Prepare", 90, [0]),
    ("restore-on-the-new-server", "Restore on the new server", "Migrate", 120, [1]),
    ("switch-dns", "Switch DNS", "Switch", 15, [2]),
    ("smoke-test", "Smoke test", "Validate", 45, [3]),
    ("go-no-go", "Go / no-go", "Validate", 10, [4, 2]),
]
TEAMS = ["Ops", "DBA", "DBA", "Network", "QA", "Ops"]
PEOPLE = ["Lena Ortiz", "Dev Patel", "Dev Patel", "Ana Silva", "Tom Berg", "Lena Ortiz"]
EMAILS = [f"{p.split()[0].lower()}@example.com" for p in PEOPLE]
START = datetime(2026, 12, 5, 6, 0)
FORMATS = ("cutover", "msproject", "smartsheet")


def _finish_times() -> list[datetime]:
    ends: list[datetime] = []
    for _sid, _t, _p, minutes, deps in RUNBOOK:
        begin = max([ends[d] for d in deps], default=START)
        ends.append(begin + timedelta(minutes=minutes))
    return ends


def rows(kind: str, as_csv: bool) -> list[list[Any]]:
    """The header and rows of one export, values typed as the tool writes them."""
    ends = _finish_times()
    out: list[list[Any]] = []
    if kind == "cutover":
        out.append(
            [
                "Title", "Task ID", "Predecessor IDs", "Description", "Stream",
                "Planned Duration", "Assigned Team", "Planned Fixed Date/Time",
            ]
        )  # fmt: skip
        for i, (_sid, title, phase, minutes, deps) in enumerate(RUNBOOK):
            duration: Any = f"{minutes // 60}h{minutes % 60}m" if minutes >= 60 else f"{minutes}m"
            if not as_csv and i == 1:
                duration = timedelta(minutes=minutes)  # an [h]:mm cell
            fixed: Any = START if i == 0 else None
            if as_csv and fixed is not None:
                fixed = "2026-12-05 06:00"
            out.append(
                [
                    title, str(101 + i), ",".join(str(101 + d) for d in deps),
                    f"Do: {title.lower()}", phase, duration, TEAMS[i], fixed,
                ]
            )  # fmt: skip
    elif kind == "msproject":
        out.append(["ID", "Name", "Duration", "Start", "Finish", "Predecessors", "Resource Names"])
        for i, (_sid, title, _phase, minutes, deps) in enumerate(RUNBOOK):
            links = [str(d + 1) for d in deps]
            if i == 3:
                links = ["3FS+15 mins"]  # a lag the plan cannot hold: named, not dropped
            start = ends[i] - timedelta(minutes=minutes)
            hours = minutes / 60
            duration = f"{minutes} mins" if minutes < 60 else f"{hours:g} hrs"
            begin: Any = start
            end: Any = ends[i]
            if as_csv:
                begin = f"{start:%a} {start.month}/{start.day}/{start:%y} {start:%I:%M %p}"
                end = f"{end.month}/{end.day}/{end.year} {end:%H:%M}"
            out.append([i + 1, title, duration, begin, end, ";".join(links), PEOPLE[i]])
    else:  # smartsheet: predecessors are row numbers; durations such as 1.5h
        out.append(
            [
                "Task Name", "Duration", "Start", "Finish", "Predecessors", "Assigned To",
                "% Complete", "Status", "Comments",
            ]
        )  # fmt: skip
        for i, (_sid, title, _phase, minutes, deps) in enumerate(RUNBOOK):
            start = ends[i] - timedelta(minutes=minutes)
            duration = f"{minutes / 60:g}h" if minutes >= 60 else f"{minutes}m"
            begin = start if not as_csv else start.strftime("%Y-%m-%d %H:%M")
            end = ends[i] if not as_csv else ends[i].strftime("%Y-%m-%d %H:%M")
            out.append(
                [
                    title, duration, begin, end, ", ".join(str(d + 1) for d in deps),
                    EMAILS[i], "0%", "Not Started", "",
                ]
            )  # fmt: skip
    return out


def expected(kind: str) -> dict[str, dict[str, Any]]:
    """What each step of the imported plan must hold."""
    out: dict[str, dict[str, Any]] = {}
    for i, (sid, title, phase, minutes, deps) in enumerate(RUNBOOK):
        owner = {
            "cutover": TEAMS[i].lower(),
            "msproject": PEOPLE[i].lower().replace(" ", "-"),
            "smartsheet": EMAILS[i].split("@")[0],
        }[kind]
        out[sid] = {
            "title": title,
            "phase": phase.lower() if kind == "cutover" else "cutover",
            "owner": owner,
            "duration": timedelta(minutes=minutes),
            "depends_on": [RUNBOOK[d][0] for d in deps],
        }
    return out


def write_xlsx(path: Path, table: list[list[Any]], sheet: str = "Tasks", **book: Any) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    for key, value in book.items():
        setattr(workbook, key, value)
    ws = workbook.active
    assert ws is not None
    ws.title = sheet
    for row in table:
        ws.append(row)
    workbook.save(path)
    return path


def write_csv(
    path: Path, table: list[list[Any]], encoding: str = "utf-8", delimiter: str = ","
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    for row in table:
        writer.writerow(["" if v is None else v for v in row])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def build(kind: str, folder: Path, suffix: str) -> Path:
    table = rows(kind, as_csv=suffix == ".csv")
    path = folder / f"{kind}{suffix}"
    if suffix == ".csv":
        return write_csv(path, table)
    return write_xlsx(path, table)


# --- hand-made workbooks (what no spreadsheet program writes) ---------------------------------

_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_OPC = "http://schemas.openxmlformats.org"
_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_RELS = f"{_OPC}/officeDocument/2006/relationships"
_CONTENT_TYPES = (
    f'{_XML}<Types xmlns="{_OPC}/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_MIME}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_MIME}.worksheet+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    f'{_XML}<Relationships xmlns="{_OPC}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    f'{_XML}<workbook xmlns="{_OPC}/spreadsheetml/2006/main" xmlns:r="{_RELS}">'
    '<sheets><sheet name="Tasks" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_BOOK_RELS = (
    f'{_XML}<Relationships xmlns="{_OPC}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
SHEET_HEAD = f'<worksheet xmlns="{_OPC}/spreadsheetml/2006/main">'


def inline_row(number: int, values: list[str]) -> str:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{number}">{cells}</row>'


def raw_xlsx(path: Path, sheet_xml: bytes | str, *, doctype: str = "") -> Path:
    """A minimal workbook whose one sheet is `sheet_xml` (after the XML declaration and an
    optional DOCTYPE)."""
    body = sheet_xml.encode() if isinstance(sheet_xml, str) else sheet_xml
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", (_XML + doctype).encode() + body)
    return path
