"""Hostile spreadsheets: each is refused (or imported inert) with an exit code, the cell or part
it is about, and no traceback. Run through the real `cutover import`."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from hostile import CORPUS, HOSTILE, forbidden_in
from sheetbed import SHEET_HEAD, build, inline_row, raw_xlsx, write_csv, write_xlsx
from support import PLANS, run_cli

from cutover_console.plan import load_plan
from cutover_console.sheets import SheetInvalid
from cutover_console.sheets.reader import MAX_ROWS, check_archive

ZONE = "America/Chicago"


def run_import(sheet: Path, *extra: str) -> tuple[int, str]:
    out = sheet.parent / f"{sheet.stem}-plan.yaml"
    done = run_cli(
        "import", str(sheet), "-o", str(out), "--timezone", ZONE, "--start", "2026-12-05 06:00",
        *extra,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert forbidden_in(output) == [], output
    return done.returncode, output


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    doctype = (
        '<!DOCTYPE worksheet [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
            for i in range(1, 10)
        )
        + "]>"
    )
    body = (
        SHEET_HEAD
        + "<sheetData>"
        + inline_row(1, ["Title", "Duration"])
        + inline_row(2, ["&lol9;", "1h"])
        + "</sheetData></worksheet>"
    )
    code, output = run_import(raw_xlsx(tmp_path / "laughs.xlsx", body, doctype=doctype))
    assert code == 2
    assert "laughs.xlsx: the workbook's XML declares entities, which are refused" in output


def test_a_zip_bomb_is_refused_before_anything_decompresses(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as part:
            chunk = b"\0" * (1 << 20)
            for _ in range(100):  # 100 MB of zeros, about 100 kB compressed
                part.write(chunk)
    assert bomb.stat().st_size < 500_000
    code, output = run_import(bomb)
    assert code == 2
    assert "bomb.xlsx: the part 'xl/worksheets/sheet1.xml' expands" in output
    assert "a zip bomb, or not a real workbook" in output


def test_the_archive_guard_counts_the_total_too() -> None:
    def member(name: str, size: int, packed: int) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name)
        info.file_size, info.compress_size = size, packed
        return info

    many = SimpleNamespace(
        infolist=lambda: [member(f"xl/media/{i}.bin", 30_000_000, 1_000_000) for i in range(10)]
    )
    with pytest.raises(SheetInvalid, match="expands to 300,000,000 bytes"):
        check_archive("big.xlsx", many)  # type: ignore[arg-type]
    fine = SimpleNamespace(infolist=lambda: [member("xl/workbook.xml", 50_000, 5_000)])
    check_archive("ok.xlsx", fine)  # type: ignore[arg-type]


def _million_rows(path: Path, dimension: str) -> Path:
    """A workbook whose sheet has 1,000,001 rows, streamed in (never held in memory)."""
    sheet = raw_xlsx(path, "")  # the other parts
    with (
        zipfile.ZipFile(sheet, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet2.xml", "w") as part,
    ):
        part.write(f"{SHEET_HEAD}{dimension}<sheetData>".encode())
        part.write(inline_row(1, ["Title", "Duration"]).encode())
        for start in range(2, 1_000_002, 10_000):
            part.write(
                "".join(
                    f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>s{n}</t></is></c></row>'
                    for n in range(start, start + 10_000)
                ).encode()
            )
        part.write(b"</sheetData></worksheet>")
    _point_sheet_at(sheet, "worksheets/sheet2.xml")
    return sheet


def test_a_million_rows_stop_at_the_cap(tmp_path: Path) -> None:
    for name, dimension in (("million", "A1:B1000001"), ("lying", "A1:B2")):
        # An honest <dimension> is refused at once; a lying one is read until the cap.
        sheet = _million_rows(tmp_path / f"{name}.xlsx", f'<dimension ref="{dimension}"/>')
        code, output = run_import(sheet)
        assert code == 2
        assert f"{name}.xlsx:Tasks!{MAX_ROWS + 1}: the sheet has more than {MAX_ROWS:,}" in output
    # Without <dimension>, openpyxl would parse all of it to size the sheet as it opens it.
    code, output = run_import(_million_rows(tmp_path / "unsized.xlsx", ""))
    assert (
        code == 2 and "bytes of sheet XML without a <dimension> (no spreadsheet program" in output
    )
    csv_file = tmp_path / "million.csv"
    csv_file.write_text("Title,Duration\n" + "x,1h\n" * 1_000_000, encoding="utf-8")
    code, output = run_import(csv_file)
    assert code == 2 and f"million!{MAX_ROWS + 1}: the sheet has more than" in output


def _point_sheet_at(path: Path, target: str) -> None:
    """Rewrite the workbook's relationship so that its one sheet is `target`."""
    parts: dict[str, bytes] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            parts[name] = archive.read(name)
    rels = parts["xl/_rels/workbook.xml.rels"].replace(b"worksheets/sheet1.xml", target.encode())
    parts["xl/_rels/workbook.xml.rels"] = rels
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def test_formulas_without_a_cached_value_are_named(tmp_path: Path) -> None:
    table = [["Title", "Duration (min)"], ["Backup", "=30+15"], ["Restore", 60]]
    code, output = run_import(write_xlsx(tmp_path / "formulas.xlsx", table))
    assert code == 2
    assert "formulas.xlsx:Tasks!B2: this formula has no calculated value" in output
    assert "open it in Excel and save it first" in output


def test_merged_cells_down_a_column_are_filled_and_across_are_named(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Tasks"
    for row in [
        ["Title", "Stream", "Duration"],
        ["Freeze", "Prepare", "30m"],
        ["Backup", None, "1h"],
        ["Switch", "Switch", "15m"],
    ]:
        sheet.append(row)
    sheet.merge_cells("B2:B3")  # the stream written once for two rows
    book.save(tmp_path / "down.xlsx")
    code, output = run_import(tmp_path / "down.xlsx")
    assert code == 0, output
    assert "down.xlsx:Tasks!B2:B3: warning: merged cells: the value is used for every row" in output
    plan = load_plan(tmp_path / "down-plan.yaml").plan
    assert [s.phase for s in plan.steps] == ["prepare", "prepare", "switch"]
    sheet.merge_cells("A4:B4")  # a title across the stream column
    book.save(tmp_path / "across.xlsx")
    code, output = run_import(tmp_path / "across.xlsx")
    assert code == 2
    assert "across.xlsx:Tasks!A4:B4: merged cells across columns" in output
    assert "unmerge them" in output


def test_xls_is_refused_with_what_to_do(tmp_path: Path) -> None:
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1000
    for name in ("old.xls", "renamed.xlsx"):
        (tmp_path / name).write_bytes(ole2)
        code, output = run_import(tmp_path / name)
        assert code == 2
        assert f"{name}: this is an Excel 97-2003 workbook (.xls)" in output
        assert "save it as .xlsx (Excel Workbook) or CSV UTF-8, and import that" in output


def test_not_a_workbook_and_an_excel_error_are_named(tmp_path: Path) -> None:
    (tmp_path / "text.xlsx").write_text("Title,Duration\n", encoding="utf-8")
    code, output = run_import(tmp_path / "text.xlsx")
    assert code == 2 and "text.xlsx: not an XLSX workbook (it is not a zip archive)" in output
    table = [["Title", "Duration"], ["Backup", "#REF!"]]
    code, output = run_import(write_xlsx(tmp_path / "ref.xlsx", table))
    assert code == 2 and "ref.xlsx:Tasks!B2: '#REF!': the cell holds an Excel error" in output


def test_wrong_types_in_every_column(tmp_path: Path) -> None:
    table = [
        [
            "ID", "Title", "Duration", "Predecessors", "Planned Fixed Date/Time", "Kind",
            "Point of no return",
        ],
        [1, "First", "1h", None, None, "task", "no"],
        [1.5, "Second", True, True, 45, "banana", "maybe"],
        [3, None, "1h", "1", "tomorrow", "task", "no"],
        [4, "Fourth", "soon", "99", datetime(1900, 1, 1), "task", 7],
    ]  # fmt: skip
    code, output = run_import(write_xlsx(tmp_path / "types.xlsx", table))
    assert code == 2
    for cell in ("C3", "D3", "E3", "F3", "G3", "C5", "D5", "E5", "G5"):
        assert f"types.xlsx:Tasks!{cell}: " in output, (cell, output)
    assert "types.xlsx:Tasks!3: a step needs a title" not in output
    assert "types.xlsx:Tasks!4: a step needs a title" in output
    assert "no step with the id '99'" in output


@pytest.mark.parametrize(
    "encoding, bom", [("utf-16", b""), ("utf-8-sig", b""), ("utf-8", b""), ("cp1252", b"")]
)
def test_csv_encodings(encoding: str, bom: bytes, tmp_path: Path) -> None:
    table = [["Title", "Duration", "Owner"], ["Sauvegarde complète", "1h", "Zoë Müller"]]
    sheet = write_csv(tmp_path / f"{encoding}.csv", table, encoding=encoding, delimiter=";")
    if encoding == "utf-16":
        assert sheet.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    code, output = run_import(sheet)
    assert code == 0, output
    plan = load_plan(tmp_path / f"{encoding}-plan.yaml").plan
    assert plan.steps[0].title == "Sauvegarde complète"
    assert plan.person("zoe-muller").name == "Zoë Müller"
    if encoding == "cp1252":
        assert "not UTF-8 (byte 0xe8); read as Windows-1252" in output


def test_escape_sequences_and_markup_stay_inert(tmp_path: Path) -> None:
    """Titles keep exactly what was typed (the plan holds them; screens pass the boundary);
    messages quoting a cell show the inert form. Fails when the boundary is bypassed."""
    table = [["Title", "Duration", "Stream"]]
    table += [[text, "1h", "Prepare"] for text in HOSTILE]
    # CSV carries every control character; XLSX (XML 1.0) only those openpyxl can write.
    xlsx_safe = [t for t in HOSTILE if not any(ord(c) < 32 for c in t)]
    for sheet, titles in (
        (write_csv(tmp_path / "titles.csv", table), HOSTILE),
        (
            write_xlsx(tmp_path / "titles.xlsx", table[:1] + [[t, "1h"] for t in xlsx_safe]),
            xlsx_safe,
        ),
    ):
        code, output = run_import(sheet)
        assert code == 0, output
        written = tmp_path / f"{sheet.stem}-plan.yaml"
        plan = load_plan(written).plan
        assert [s.title for s in plan.steps] == titles
        raw = written.read_text(encoding="utf-8")
        assert forbidden_in(raw) == []  # the file itself carries escapes, not the controls
        written.unlink()
    bad = [["Title", "Duration"]] + [[f"t{i}", text] for i, text in enumerate(HOSTILE)]
    code, output = run_import(write_csv(tmp_path / "values.csv", bad))
    assert code == 2
    for hostile, shown in CORPUS.values():
        if hostile != shown:
            assert shown[:20] in output, shown
    sheet_name = "\x1b[2Jclear"
    book = build("cutover", tmp_path, ".xlsx")
    code, output = run_import(book, "--sheet", sheet_name)
    assert code == 2 and "no sheet named '\\x1b[2Jclear'" in output


def test_a_fifo_and_a_huge_file_are_refused_unread(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    code, output = run_import(fifo)
    assert code == 2 and "pipe.csv: it is not a regular file" in output
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(60_000_000)  # sparse: no disk used
    code, output = run_import(huge)
    assert code == 2 and "huge.csv: the file is 60,000,000 bytes (at most 50,000,000)" in output


def test_the_plan_data_sheet_is_read_by_the_hardened_yaml_parser(tmp_path: Path) -> None:
    """An exported workbook comes back from other people: its hidden YAML is outside input."""
    import openpyxl

    workbook = tmp_path / "plan.xlsx"
    assert (
        run_cli("export-plan", str(PLANS / "small.yaml"), "--xlsx", str(workbook)).returncode == 0
    )
    book = openpyxl.load_workbook(workbook)
    book["Plan data"]["B3"] = "!!python/object/apply:os.system ['echo pwned']"
    book.save(workbook)
    code, output = run_import(workbook)
    assert code == 2
    assert "plan.xlsx:'Plan data'!3: plan: the tag !!python/object/apply:os.system is not" in output
    assert "pwned" not in output.replace("echo pwned", "")


def test_a_file_name_cannot_write_lines_into_the_plan(tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "x\nversion: 2\n.csv", [["Title", "Duration"], ["Backup", "1h"]])
    code, output = run_import(sheet)
    assert code == 0, output
    written = tmp_path / f"{sheet.stem}-plan.yaml"
    text = written.read_text(encoding="utf-8")
    assert "\nversion: 2\n" not in text and "# x␊version: 2␊!2" in text
    assert load_plan(written).plan.version == 1


def test_sheets_without_a_size_are_counted_over_the_workbook(tmp_path: Path) -> None:
    """Four sheets of 1.3 MB without <dimension>, each under the limit, are refused together:
    openpyxl would parse every one whole as it opens the workbook."""
    import openpyxl

    book = openpyxl.Workbook()
    for index in range(4):
        sheet = book.active if index == 0 else book.create_sheet()
        assert sheet is not None
        sheet.title = f"S{index}"
        sheet.append(["Title", "Duration"])
    book.save(tmp_path / "small.xlsx")
    rows = "".join(
        f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>s{n}</t></is></c></row>'
        for n in range(1, 22_000)
    )
    unsized = f"{SHEET_HEAD}<sheetData>{rows}</sheetData></worksheet>".encode()
    with (
        zipfile.ZipFile(tmp_path / "small.xlsx") as source,
        zipfile.ZipFile(tmp_path / "four.xlsx", "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for name in source.namelist():
            is_sheet = name.startswith("xl/worksheets/sheet")
            target.writestr(name, unsized if is_sheet else source.read(name))
    assert 1_000_000 < len(unsized) < 4_000_000 < 4 * len(unsized)
    code, output = run_import(tmp_path / "four.xlsx")
    assert code == 2
    assert "bytes of sheet XML without a <dimension>" in output
