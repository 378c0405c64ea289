"""`cutover import` and `cutover export-plan`: the corpus of real-world exports, the grammar of
predecessors and durations, errors by cell, placeholders, and the round trip on shipped plans."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sheetbed import FORMATS, build, expected, rows, write_csv, write_xlsx
from support import PLANS, ROOT, run_cli

from cutover_console.plan import load_plan, load_plan_text
from cutover_console.plan.schedule import planned
from cutover_console.sheets import SheetInvalid, cells
from cutover_console.sheets.importer import ImportOptions, import_plan

ZONE = "America/Chicago"
SHIPPED = [
    ROOT / "checklists" / "collision-bi-weekend.yaml",
    ROOT / "checklists" / "demo.yaml",
    PLANS / "small.yaml",
    PLANS / "dns-lab.yaml",
]


def imported(path: Path, **options: object) -> str:
    opts = ImportOptions(timezone=ZONE, **options)  # type: ignore[arg-type]
    return import_plan(path, opts).text


def problems_of(path: Path, **options: object) -> list[str]:
    with pytest.raises(SheetInvalid) as caught:
        imported(path, **options)
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize("kind", FORMATS)
def test_the_corpus_imports_to_the_expected_plan(kind: str, suffix: str, tmp_path: Path) -> None:
    sheet = build(kind, tmp_path, suffix)
    out = tmp_path / "plan.yaml"
    done = run_cli("import", str(sheet), "-o", str(out), "--timezone", ZONE)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=")
    plan = load_plan(out).plan
    want = expected(kind)
    assert [s.id for s in plan.steps] == list(want)
    for step in plan.steps:
        got = {
            "title": step.title,
            "phase": step.phase,
            "owner": step.owner,
            "duration": step.duration,
            "depends_on": step.depends_on,
        }
        assert got == want[step.id], step.id
    assert plan.cutover.window.start.replace(tzinfo=None) == datetime(2026, 12, 5, 6, 0)
    assert planned(plan).end <= plan.cutover.window.end
    sheet_name = "Tasks" if suffix == ".xlsx" else kind
    for index in range(len(plan.steps)):
        assert f"# {sheet_name}!{index + 2}\n" in text  # where each step came from
    check = run_cli("check", str(out))
    assert check.returncode == 0, check.stderr
    warnings = [line for line in check.stderr.splitlines() if line.strip()]
    assert warnings and all("placeholder left to fill in" in w for w in warnings), warnings
    if kind == "msproject":  # the lag on row 5 is named, and kept as a comment on the step
        assert f"{sheet_name}!F5: warning: the link 3FS+15mins is written as" in done.stderr
        assert "# the link 3FS+15mins is written as 'after restore-on-the-new-server'" in text
    if kind == "smartsheet":
        lena = plan.person("lena")
        assert lena.contact == "lena@example.com" and lena.name == "lena"


def test_placeholders_are_listed_by_check_until_filled(tmp_path: Path) -> None:
    sheet = build("cutover", tmp_path, ".xlsx")
    text = imported(sheet)
    document = load_plan_text(text, "p.yaml")
    named = [str(w) for w in document.warnings]
    assert any("cutover.client: placeholder" in w for w in named)
    assert any("people[0].name: placeholder" in w and "leads" in w for w in named)
    filled = text.replace("FILL IN:", "Filled")
    assert load_plan_text(filled, "p.yaml").warnings == []


@pytest.mark.parametrize(
    "raw, links",
    [
        ("14", [("14", "FS", "")]),
        ("14FS+3d; 15, 16SS", [("14", "FS", "+3d"), ("15", "FS", ""), ("16", "SS", "")]),
        ("7FS20%", [("7", "FS", "20%")]),  # MS Project's percentage lag
        ("7XX", None),
        ("14FS+3", None),  # a lag needs its unit
        ("7FS+20%", [("7", "FS", "+20%")]),
        ("3 ff - 2 hrs", [("3", "FF", "-2hrs")]),
        ("db-2", [("db-2", "FS", "")]),
        ("4FS+0d", [("4", "FS", "")]),
        (12.0, [("12", "FS", "")]),
    ],
)
def test_the_predecessor_grammar(raw: object, links: list[tuple[str, str, str]] | None) -> None:
    known = {"14", "15", "16", "7", "3", "db-2", "4", "12"}
    if links is None:  # not a link to a known id: the importer names the cell
        assert any(f.target not in known for f in cells.links(raw, known))
        return
    assert [(f.target, f.type, f.lag) for f in cells.links(raw, known)] == links


@pytest.mark.parametrize(
    "raw, unit, seconds",
    [
        (timedelta(hours=1, minutes=30), None, 5400),
        (timedelta(seconds=5399.9999), None, 5400),  # an [h]:mm cell's float noise
        ("1:30", None, 5400),
        ("01:30", None, 5400),
        ("90m", None, 5400),
        ("1h30m", None, 5400),
        ("1.5 hrs", None, 5400),
        ("30 mins", None, 1800),
        ("2 days?", None, 172800),
        (45, "m", 2700),
        ("45", "m", 2700),
        (1.5, "h", 5400),
        (datetime(1899, 12, 31, 6, 0), None, 30 * 3600),  # 1d6h in an h:mm cell
    ],
)
def test_durations_as_spreadsheets_write_them(raw: object, unit: str | None, seconds: int) -> None:
    assert cells.duration(raw, unit) == timedelta(seconds=seconds)


@pytest.mark.parametrize("raw", [45, "45", "soon", "2w", "-5m", True, "31d", 1.5])
def test_durations_refused(raw: object) -> None:
    with pytest.raises(cells.CellError):
        cells.duration(raw, None)


def test_a_bare_number_needs_a_unit_in_the_header(tmp_path: Path) -> None:
    table = [["Title", "Duration (min)"], ["Backup", 45]]
    plan = load_plan_text(imported(write_xlsx(tmp_path / "a.xlsx", table), start="2026-12-05"))
    assert plan.plan.steps[0].duration == timedelta(minutes=45)
    table = [["Title", "Duration"], ["Backup", 45]]
    found = problems_of(write_xlsx(tmp_path / "b.xlsx", table), start="2026-12-05 06:00")
    assert len(found) == 1
    assert found[0].startswith("b.xlsx:Tasks!B2: Duration '45': a number without a unit")
    assert "'Duration (min)'" in found[0]


def test_every_problem_at_once_capped_at_100(tmp_path: Path) -> None:
    table = [["Title", "Duration"]] + [[f"Step {i}", "soon"] for i in range(150)]
    sheet = write_csv(tmp_path / "many.csv", table)
    done = run_cli("import", str(sheet), "-o", str(tmp_path / "p.yaml"), "--timezone", ZONE,
                   "--start", "2026-12-05 06:00")  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 101, lines[-3:]
    assert lines[0] == (
        "many.csv:many!B2: Duration 'soon': not a duration (write 90m, 1h30m, 01:30 or 2d; a bare "
        "number only under a header naming its unit, such as 'Duration (min)')"
    )
    assert lines[-1].startswith("many.csv: 50 more problems are not listed")
    assert not (tmp_path / "p.yaml").exists()  # nothing half-written


def test_the_time_zone_and_start_are_asked_for(tmp_path: Path) -> None:
    sheet = write_csv(tmp_path / "t.csv", [["Title", "Duration"], ["Backup", "1h"]])
    done = run_cli("import", str(sheet), "-o", str(tmp_path / "p.yaml"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "give --timezone ZONE" in done.stderr
    assert "give --start 'YYYY-MM-DD HH:MM'" in done.stderr
    done = run_cli("import", str(sheet), "-o", str(tmp_path / "p.yaml"), "--timezone", "Mars/Base")
    assert "unknown time zone 'Mars/Base'" in done.stderr


def test_dates_are_read_in_the_plan_zone(tmp_path: Path) -> None:
    table = [["Title", "Duration", "Not before"], ["Switch", "15m", datetime(2026, 12, 6, 2, 0)]]
    plan = load_plan_text(imported(write_xlsx(tmp_path / "z.xlsx", table))).plan
    when = plan.steps[0].not_before
    assert when is not None and when.utcoffset() == timedelta(hours=-6)  # Chicago in December
    assert when.replace(tzinfo=None) == datetime(2026, 12, 6, 2, 0)


def test_a_1904_workbook_gives_the_same_dates(tmp_path: Path) -> None:
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    table = [["Title", "Duration", "Not before"], ["Switch", "15m", datetime(2026, 12, 6, 2, 30)]]
    sheet = write_xlsx(tmp_path / "mac.xlsx", table, epoch=CALENDAR_MAC_1904)
    with __import__("zipfile").ZipFile(sheet) as archive:  # the file really is 1904-based
        assert b'date1904="1"' in archive.read("xl/workbook.xml")
    plan = load_plan_text(imported(sheet)).plan
    assert plan.steps[0].not_before is not None
    assert plan.steps[0].not_before.replace(tzinfo=None) == datetime(2026, 12, 6, 2, 30)


def test_a_cycle_is_named_with_its_path(tmp_path: Path) -> None:
    table = [
        ["ID", "Title", "Duration", "Predecessors"],
        [1, "Backup", "1h", "3"],
        [2, "Restore", "1h", "1"],
        [3, "Verify", "1h", "2"],
    ]
    found = problems_of(write_xlsx(tmp_path / "c.xlsx", table), start="2026-12-05 06:00")
    assert any(
        "the predecessors form a cycle: backup (Tasks!2) → verify (Tasks!4) → restore (Tasks!3) "
        "→ backup (Tasks!2)" in p
        for p in found
    ), found


def test_unknown_headers_are_named_with_what_they_could_be(tmp_path: Path) -> None:
    table = [["Title", "Durration", "Owner email"], ["Backup", "1h", "lena@example.com"]]
    sheet = write_csv(tmp_path / "h.csv", table)
    done = run_cli("import", str(sheet), "-o", str(tmp_path / "p.yaml"), "--timezone", ZONE,
                   "--start", "2026-12-05 06:00")  # fmt: skip
    assert done.returncode == 0, done.stderr  # every step has a title: it imports, 0s each
    assert (
        "h.csv:h!B1: warning: the column 'Durration' is not imported; it could map to duration"
        in done.stderr
    )
    assert "--map 'Durration'=duration" in done.stderr
    assert "it could map to owner" in done.stderr
    done = run_cli("import", str(sheet), "-o", str(tmp_path / "q.yaml"), "--timezone", ZONE,
                   "--start", "2026-12-05 06:00", "--map", "Durration=duration",
                   "--map", "owner email=owner")  # fmt: skip
    assert done.returncode == 0, done.stderr
    plan = load_plan(tmp_path / "q.yaml").plan
    assert plan.steps[0].duration == timedelta(hours=1) and plan.steps[0].owner == "lena"
    bad = run_cli("import", str(sheet), "-o", str(tmp_path / "r.yaml"), "--map", "X=nonsense")
    assert bad.returncode == 2 and "write HEADER=FIELD" in bad.stderr


def test_import_does_not_overwrite_without_force(tmp_path: Path) -> None:
    sheet = build("cutover", tmp_path, ".csv")
    nowhere = tmp_path / "missing" / "p.yaml"
    done = run_cli("import", str(sheet), "-o", str(nowhere), "--timezone", ZONE)
    assert done.returncode == 2 and "error: cannot write" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli(
        "export-plan", str(PLANS / "small.yaml"), "--xlsx", str(tmp_path / "x" / "p.xlsx")
    )
    assert done.returncode == 2 and "error: cannot write" in done.stderr
    out = tmp_path / "p.yaml"
    out.write_text("mine", encoding="utf-8")
    done = run_cli("import", str(sheet), "-o", str(out), "--timezone", ZONE)
    assert done.returncode == 2 and out.read_text(encoding="utf-8") == "mine"
    assert (
        run_cli("import", str(sheet), "-o", str(out), "--timezone", ZONE, "--force").returncode == 0
    )


@pytest.mark.parametrize("plan_file", SHIPPED, ids=lambda p: p.name)
def test_export_plan_then_import_gives_the_same_plan(plan_file: Path, tmp_path: Path) -> None:
    workbook = tmp_path / "plan.xlsx"
    done = run_cli("export-plan", str(plan_file), "--xlsx", str(workbook))
    assert done.returncode == 0, done.stderr
    back = tmp_path / "back.yaml"
    done = run_cli("import", str(workbook), "-o", str(back))
    assert done.returncode == 0, done.stderr
    original, again = load_plan(plan_file).plan, load_plan(back).plan
    assert again.model_dump() == original.model_dump()


def test_the_exported_workbook_is_for_reviewers(tmp_path: Path) -> None:
    import openpyxl

    plan_file = ROOT / "checklists" / "collision-bi-weekend.yaml"
    workbook = tmp_path / "plan.xlsx"
    assert run_cli("export-plan", str(plan_file), "--xlsx", str(workbook)).returncode == 0
    book = openpyxl.load_workbook(workbook)
    assert book.sheetnames == ["Steps", "People", "Phases", "Plan data"]
    assert book["Plan data"].sheet_state == "hidden"
    sheet = book["Steps"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == sheet.dimensions
    headers = [c.value for c in sheet[1]]
    assert headers[:10] == [
        "Step ID", "Title", "Phase", "Kind", "Owner", "Duration", "Predecessors", "Not before",
        "Planned start", "Planned end",
    ]  # fmt: skip
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["D"].width
    plan = load_plan(plan_file).plan
    schedule = planned(plan)
    by_id = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert len(by_id) == len(plan.steps)
    for step in plan.steps:
        row = by_id[step.id]
        slot = schedule.slots[step.id]
        assert row[8].value == slot.start.astimezone(plan.zone).replace(tzinfo=None)
        assert row[9].value == slot.end.astimezone(plan.zone).replace(tzinfo=None)
    signed = next(s for s in plan.steps if s.signoff and s.signoff.count >= 2)
    assert "2 people" in by_id[signed.id][11].value
    gated = next(s for s in plan.steps if any(g.check == "dns_propagated" for g in s.gates))
    assert "DNS shows the new records on" in by_id[gated.id][10].value
    exists = run_cli("export-plan", str(plan_file), "--xlsx", str(workbook))
    assert exists.returncode == 2 and "--force" in exists.stderr


def test_a_reviewer_s_edit_comes_back(tmp_path: Path) -> None:
    import openpyxl

    workbook = tmp_path / "plan.xlsx"
    assert (
        run_cli("export-plan", str(PLANS / "small.yaml"), "--xlsx", str(workbook)).returncode == 0
    )
    book = openpyxl.load_workbook(workbook)
    sheet = book["Steps"]
    sheet["F2"] = "2h"  # the client says the first step takes longer
    book.save(workbook)
    back = load_plan_text(imported(workbook)).plan
    original = load_plan(PLANS / "small.yaml").plan
    assert back.steps[0].duration == timedelta(hours=2)
    assert back.steps[0].duration != original.steps[0].duration
    assert back.steps[1:] == original.steps[1:]


def test_import_and_export_load_openpyxl_and_nothing_else_does(tmp_path: Path) -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from cutover_console.cli import cli\n"
        "try:\n"
        "    cli.main(sys.argv[1:])\n"
        "except SystemExit as e:\n"
        "    print('EXIT', e.code, [m for m in ('openpyxl', 'defusedxml') if m in sys.modules])\n"
    )
    sheet = build("cutover", tmp_path, ".csv")

    def loaded(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=60
        )
        return done.stdout.strip().splitlines()[-1]

    journal = tmp_path / "j.sqlite"
    assert (
        run_cli("init", str(PLANS / "small.yaml"), "-j", str(journal), "--by", "lena").returncode
        == 0
    )
    assert loaded("note", "quick", "-j", str(journal), "--by", "lena") == "EXIT 0 []"
    assert loaded("check", str(PLANS / "small.yaml")) == "EXIT 0 []"
    assert loaded("schema") == "EXIT 0 []"
    xlsx = build("cutover", tmp_path, ".xlsx")
    assert loaded("import", str(xlsx), "-o", str(tmp_path / "p.yaml"), "--timezone", ZONE) == (
        "EXIT 0 ['openpyxl', 'defusedxml']"
    )
    assert "EXIT 0" in loaded(
        "import", str(sheet), "-o", str(tmp_path / "q.yaml"), "--timezone", ZONE
    )
    assert rows("cutover", True)[0][0] == "Title"  # the template's one mandatory column first
