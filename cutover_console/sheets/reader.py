"""Read a spreadsheet into rows of cell values, refusing hostile files before a parser sees them.

In order: the file is a regular file of at most MAX_FILE_BYTES; `.xls` (and any OLE2 file) is
refused with what to do instead; an XLSX archive's members are checked with `zipfile` (count,
total uncompressed size, compression ratio) before openpyxl opens it; openpyxl reads in
read-only mode with defusedxml (entity expansion fails) and stops at MAX_ROWS; a second
streaming pass over the sheet's XML names the formulas Excel never calculated and the merged
cells. CSV is decoded from UTF-8 (with or without a BOM), UTF-16 (with its BOM), or Windows-1252.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import posixpath
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from .problems import SheetInvalid, SheetProblem, a1, column_letters

MAX_FILE_BYTES = 50_000_000  # an XLSX runbook is kilobytes; 50 MB is generous
MAX_ROWS = 20_000  # rows read from one sheet (a 10,000-step plan is already huge)
MAX_CELL_CHARS = 10_000  # the plan loader refuses longer lines
MAX_MEMBERS = 10_000
MAX_SHEETS = 100
MAX_UNCOMPRESSED = 256_000_000  # all members of an XLSX together
MAX_SHARED_STRINGS = 64_000_000  # held in memory whole by openpyxl
MAX_RATIO = 200  # uncompressed/compressed for a member over 1 MB; zip bombs are 1000+
SUFFIXES = (".xlsx", ".xlsm", ".csv")
EXCEL_ERRORS = frozenset(
    {"#REF!", "#VALUE!", "#DIV/0!", "#N/A", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!"}
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


@dataclass
class Table:
    """One sheet: `rows[i]` is Excel row `i + 1` (gaps kept as empty rows)."""

    file: str
    sheet: str
    rows: list[tuple[Any, ...]]
    problems: list[SheetProblem] = field(default_factory=list)
    notes: list[SheetProblem] = field(default_factory=list)


@dataclass
class Workbook:
    """The sheet to import, and the other sheets by name (an exported plan has several)."""

    file: str
    primary: Table
    others: dict[str, Table] = field(default_factory=dict)
    sheet_names: list[str] = field(default_factory=list)


def _refuse(file: str, message: str, hint: str = "", where: str = "") -> SheetInvalid:
    return SheetInvalid([SheetProblem(file, where, message, hint)])


def read_bytes(path: Path) -> bytes:
    """The file's bytes: a regular file (a FIFO or /dev/zero is refused unread), at most
    MAX_FILE_BYTES."""
    file = path.name
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _refuse(file, f"cannot read it: {exc.strerror}", "check the path") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(file, "it is not a regular file", "give the path of a spreadsheet")
        if info.st_size > MAX_FILE_BYTES:
            raise _refuse(
                file,
                f"the file is {info.st_size:,} bytes (at most {MAX_FILE_BYTES:,})",
                "a runbook spreadsheet is far smaller; remove pictures and unrelated sheets",
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _refuse(file, f"cannot read it: {exc.strerror}", "check the path") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise _refuse(file, f"the file is larger than {MAX_FILE_BYTES:,} bytes")
    return data


def read_workbook(path: Path, sheet: str | None, extra_sheets: tuple[str, ...] = ()) -> Workbook:
    """Read `sheet` (default: the first) of an XLSX/XLSM/CSV file, and any of `extra_sheets`
    the workbook has. Raises SheetInvalid naming the file, sheet and cell."""
    file = path.name
    suffix = path.suffix.lower()
    if suffix in (".xls", ".xlt"):
        raise _refuse(file, *_XLS)
    if suffix not in SUFFIXES:
        raise _refuse(
            file,
            f"cannot import a '{suffix or 'file without a suffix'}' file",
            "give an .xlsx, .xlsm or .csv file",
        )
    data = read_bytes(path)
    if data.startswith(_OLE2):
        raise _refuse(file, *_XLS)
    if suffix == ".csv":
        table = read_csv(file, data, path.stem)
        return Workbook(file, table, {}, [table.sheet])
    return _read_xlsx(file, data, sheet, extra_sheets)


_XLS = (
    "this is an Excel 97-2003 workbook (.xls), which cutover import does not read "
    "(its format cannot be checked safely)",
    "open it in Excel or LibreOffice, save it as .xlsx (Excel Workbook) or CSV UTF-8, and "
    "import that",
)


# --- CSV ---------------------------------------------------------------------------------------


def decode_csv(file: str, data: bytes) -> tuple[str, list[SheetProblem]]:
    """CSV text from UTF-8 (BOM or not), UTF-16 with a BOM, or else Windows-1252 (said so)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError:
            raise _refuse(
                file, "the file starts as UTF-16 but is not UTF-16 text", "save it as CSV UTF-8"
            ) from None
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        note = SheetProblem(
            file,
            f"line {line}",
            f"not UTF-8 (byte 0x{data[exc.start]:02x}); read as Windows-1252",
            "check accented names; save it as CSV UTF-8 to be sure",
            severity="warning",
        )
        return data.decode("cp1252", errors="replace"), [note]


def read_csv(file: str, data: bytes, sheet: str) -> Table:
    text, notes = decode_csv(file, data)
    if "\x00" in text:
        raise _refuse(
            file,
            "the file holds NUL bytes (UTF-16 without its BOM, or not a CSV file)",
            "save it from Excel as CSV UTF-8",
        )
    first = text[: text.find("\n") if "\n" in text else len(text)]
    delimiter = max(",;\t", key=first.count) if first else ","
    rows: list[tuple[Any, ...]] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for row in reader:
            if len(rows) >= MAX_ROWS:
                raise _rows_cap(file, sheet)
            rows.append(tuple(row))
    except csv.Error as exc:
        raise _refuse(
            file,
            f"not readable as CSV: {exc}",
            "save it from Excel as CSV UTF-8",
            a1(sheet, reader.line_num),
        ) from None
    return Table(file, sheet, rows, notes=notes)


def _rows_cap(file: str, sheet: str) -> SheetInvalid:
    return _refuse(
        file,
        f"the sheet has more than {MAX_ROWS:,} rows",
        "import at most that many steps at once: split the sheet, or delete unused rows",
        a1(sheet, MAX_ROWS + 1),
    )


# --- XLSX --------------------------------------------------------------------------------------


def check_archive(file: str, archive: zipfile.ZipFile) -> None:
    """The zip-bomb guard: refuse before anything decompresses a member."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise _refuse(file, f"the workbook archive has {len(members):,} parts", _BOMB_HINT)
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 1_000_000 and ratio > MAX_RATIO:
            raise _refuse(
                file,
                f"the part {member.filename[:60]!r} expands {ratio:,.0f} times "
                f"(to {member.file_size:,} bytes): a zip bomb, or not a real workbook",
                _BOMB_HINT,
            )
        if member.filename.endswith("sharedStrings.xml") and member.file_size > MAX_SHARED_STRINGS:
            raise _refuse(file, f"the workbook's text is {member.file_size:,} bytes", _BOMB_HINT)
    if total > MAX_UNCOMPRESSED:
        raise _refuse(
            file,
            f"the workbook expands to {total:,} bytes (at most {MAX_UNCOMPRESSED:,})",
            _BOMB_HINT,
        )


_BOMB_HINT = "open it in Excel, keep only the runbook sheet, save it as .xlsx and import that"


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → the XML part that holds it (workbook.xml and its relationships)."""
    from defusedxml import ElementTree

    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels}
    parts: dict[str, str] = {}
    for sheet in book.iter(f"{_NS}sheet"):
        target = targets.get(sheet.get(f"{_REL_NS}id"), "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        parts[sheet.get("name", "")] = posixpath.normpath(path)
    return parts


def _may_hold_formulas_or_merges(archive: zipfile.ZipFile, part: str) -> bool:
    """A byte search (fast) before the XML scan (slow): no `<f`, `:f>` or `mergeCell` in the
    sheet means nothing to scan for."""
    try:
        with archive.open(part) as xml:
            tail = b""
            while chunk := xml.read(1 << 20):
                window = tail + chunk
                if b"<f" in window or b":f>" in window or b"mergeCell" in window:
                    return True
                tail = window[-16:]
    except Exception:
        return True  # let the scan name what is wrong
    return False


def scan_sheet(file: str, sheet: str, xml: IO[bytes]) -> tuple[list[str], list[str]]:
    """(cells with a formula but no calculated value, merged ranges) of one sheet's XML,
    streamed with defusedxml; stops after MAX_ROWS rows."""
    from defusedxml.ElementTree import iterparse

    uncached: list[str] = []
    merged: list[str] = []
    rows = 0
    for _event, element in iterparse(xml, events=("end",)):
        tag = element.tag
        if tag == f"{_NS}c":
            formula = element.find(f"{_NS}f")
            value = element.find(f"{_NS}v")
            if formula is not None and (value is None or not (value.text or "")):
                uncached.append(element.get("r", "?"))
        elif tag == f"{_NS}row":
            rows += 1
            element.clear()
            if rows > MAX_ROWS:
                break
        elif tag == f"{_NS}mergeCell":
            merged.append(element.get("ref", ""))
    return uncached, merged


def _read_xlsx(file: str, data: bytes, sheet: str | None, extra: tuple[str, ...]) -> Workbook:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise _refuse(
            file,
            "not an XLSX workbook (it is not a zip archive)",
            "save it from Excel as .xlsx, or as CSV UTF-8",
        ) from None
    with archive:
        check_archive(file, archive)
        try:
            parts = sheet_parts(archive)
        except Exception as exc:
            raise _unreadable(file, exc) from None
        if len(parts) > MAX_SHEETS:
            raise _refuse(file, f"the workbook has {len(parts):,} sheets", _BOMB_HINT)
        unsized = sum(_unsized_bytes(archive, part) for part in parts.values())
        if unsized > _UNSIZED_LIMIT:
            raise _refuse(
                file,
                f"the workbook holds {unsized:,} bytes of sheet XML without a <dimension> "
                "(no spreadsheet program writes that)",
                _BOMB_HINT,
            )
        names = list(parts)
        if not names:
            raise _refuse(file, "the workbook has no sheets")
        chosen = names[0] if sheet is None else sheet
        if chosen not in parts:
            listing = ", ".join(repr(n[:40]) for n in names[:20])
            raise _refuse(file, f"no sheet named {chosen[:40]!r}", f"its sheets: {listing}")
        wanted = [chosen, *(n for n in extra if n in parts and n != chosen)]
        tables = {name: _read_sheet(file, data, name) for name in wanted}
        for name, table in tables.items():
            if not _may_hold_formulas_or_merges(archive, parts[name]):
                continue
            try:
                with archive.open(parts[name]) as xml:
                    uncached, merged = scan_sheet(file, name, xml)
            except Exception as exc:
                raise _unreadable(file, exc) from None
            for cell in uncached[:200]:
                table.problems.append(
                    SheetProblem(
                        file,
                        f"{a1(name, 1)[: -len('!1')]}!{cell}",
                        "this formula has no calculated value (the file was saved by a program, "
                        "not by Excel)",
                        "open it in Excel and save it first, or type the value",
                    )
                )
            _merged(table, merged)
    return Workbook(file, tables[chosen], {n: t for n, t in tables.items() if n != chosen}, names)


_HEAD_BYTES = 64 * 1024
_UNSIZED_LIMIT = 4_000_000  # bytes of sheet XML openpyxl may read whole just to size it


def _unsized_bytes(archive: zipfile.ZipFile, part: str) -> int:
    """The size of a sheet's XML if it has no `<dimension>` before its rows, else 0.

    openpyxl sizes every sheet from its `<dimension>` as it opens a workbook and, when there is
    none, parses the whole sheet to look for it. Every spreadsheet program writes it; more
    than _UNSIZED_LIMIT bytes of sheets without it are refused before that parse."""
    try:
        info = archive.getinfo(part)
    except KeyError:
        return 0  # openpyxl names the missing part
    with archive.open(info) as xml:
        head = xml.read(_HEAD_BYTES)
    data_at = head.find(b"<sheetData")
    dimension_at = head.find(b"<dimension")
    if dimension_at == -1 or (data_at != -1 and data_at < dimension_at):
        return info.file_size
    return 0


def _read_sheet(file: str, data: bytes, name: str) -> Table:
    import openpyxl
    from openpyxl.xml import DEFUSEDXML

    if not DEFUSEDXML:  # never parse a workbook's XML with entity expansion on
        raise _refuse(
            file,
            "defusedxml is not installed (or OPENPYXL_DEFUSEDXML is not True)",
            "pip install defusedxml",
        )
    rows: list[tuple[Any, ...]] = []
    try:
        book = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
        try:
            sheet = book[name]
            if (sheet.max_row or 0) > MAX_ROWS:  # its <dimension> says so: no need to read on
                raise _rows_cap(file, name)
            sheet.reset_dimensions()  # a hostile <dimension> must not hide or invent rows
            for row in sheet.iter_rows(values_only=True):
                if len(rows) >= MAX_ROWS:
                    raise _rows_cap(file, name)
                rows.append(row)
        finally:
            book.close()
    except SheetInvalid:
        raise
    except Exception as exc:  # openpyxl and the XML parsers raise many kinds
        raise _unreadable(file, exc) from None
    table = Table(file, name, rows)
    for r_index, row in enumerate(rows, 1):
        for c_index, value in enumerate(row, 1):
            if isinstance(value, str) and (value in EXCEL_ERRORS or len(value) > MAX_CELL_CHARS):
                table.problems.append(_cell_problem(file, name, r_index, c_index, value))
    return table


def _cell_problem(file: str, sheet: str, row: int, column: int, value: str) -> SheetProblem:
    if value in EXCEL_ERRORS:
        return SheetProblem(
            file, a1(sheet, row, column), "the cell holds an Excel error", "fix the formula",
            raw=value,
        )  # fmt: skip
    return SheetProblem(
        file,
        a1(sheet, row, column),
        f"the cell holds {len(value):,} characters (at most {MAX_CELL_CHARS:,})",
        "shorten it; long instructions belong in a linked document",
    )


def _unreadable(file: str, exc: Exception) -> SheetInvalid:
    kind = type(exc).__name__
    causes: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(causes) < 10:  # openpyxl wraps the parser's error
        causes.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    if {"EntitiesForbidden", "DTDForbidden", "ExternalReferenceForbidden"} & set(causes):
        return _refuse(
            file,
            "the workbook's XML declares entities, which are refused "
            "(an entity-expansion attack, or a file no spreadsheet program wrote)",
            "open it in Excel and save it as .xlsx again",
        )
    return _refuse(
        file,
        f"not readable as a workbook ({kind})",
        "open it in Excel and save it as .xlsx again, or save it as CSV UTF-8",
    )


def _merged(table: Table, ranges: list[str]) -> None:
    """A range merged down one column (a phase written once for several rows) is filled down,
    and said so; any other merge is named, since its value belongs to no single field."""
    from openpyxl.utils.cell import range_boundaries

    for ref in ranges[:200]:
        try:
            low_col, low_row, high_col, high_row = range_boundaries(ref)
        except (ValueError, TypeError):
            continue
        assert low_col and low_row and high_col and high_row
        where = f"{a1(table.sheet, low_row, low_col)}:{column_letters(high_col - 1)}{high_row}"
        if low_col == high_col and low_row > 1:
            top = _value(table.rows, low_row, low_col)
            for row in range(low_row + 1, min(high_row, len(table.rows)) + 1):
                values = list(table.rows[row - 1])
                values.extend([None] * (low_col - len(values)))
                values[low_col - 1] = top
                table.rows[row - 1] = tuple(values)
            table.notes.append(
                SheetProblem(
                    table.file,
                    where,
                    "merged cells: the value is used for every row they span",
                    severity="warning",
                )
            )
        else:
            table.problems.append(
                SheetProblem(
                    table.file,
                    where,
                    "merged cells across columns or in the header row cannot be imported",
                    "unmerge them (Home > Merge & Center > Unmerge Cells) and import again",
                )
            )


def _value(rows: list[tuple[Any, ...]], row: int, column: int) -> Any:
    if row > len(rows) or column > len(rows[row - 1]):
        return None
    return rows[row - 1][column - 1]


def iter_cells(table: Table) -> Iterator[tuple[int, int, Any]]:
    """(row, column, value) of every non-empty cell, 1-based."""
    for r_index, row in enumerate(table.rows, 1):
        for c_index, value in enumerate(row, 1):
            if value is not None and value != "":
                yield r_index, c_index, value


def is_datetime(value: object) -> bool:
    return isinstance(value, datetime)
