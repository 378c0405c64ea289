"""`cutover schema`, `cutover import` and `cutover export-plan`: the plan format for editors, and
plans from and back to the spreadsheets runbooks start in.

The spreadsheet libraries (openpyxl, defusedxml) are imported by the two spreadsheet commands
only, from inside `cutover_console.sheets`.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from ..untrusted import inert
from . import cli
from .output import echo


@cli.command()
def schema() -> None:
    """Print the plan format as a JSON Schema (draft-07, for YAML editors).

    Regenerate the committed copy with: cutover schema > schema/plan.schema.json"""
    from ..plan.editor_schema import schema_text

    click.echo(schema_text(), nl=False)


def _schema_ref(output: Path) -> str | None:
    """The modeline's path to schema/plan.schema.json, relative to the plan, when the plan is
    written inside a checkout that has one."""
    folder = output.resolve().parent
    for parent in (folder, *folder.parents):
        candidate = parent / "schema" / "plan.schema.json"
        if candidate.is_file():
            return os.path.relpath(candidate, folder).replace(os.sep, "/")
    return None


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    from ..sheets.columns import FIELDS

    out: dict[str, str] = {}
    for pair in pairs:
        header, sep, name = pair.rpartition("=")
        if not sep or not header or name not in FIELDS:
            raise click.BadParameter(
                f"{inert(pair, limit=60)!r}: write HEADER=FIELD, FIELD one of {', '.join(FIELDS)}",
                param_hint="--map",
            )
        out[header] = name
    return out


@cli.command("import")
@click.argument("sheet_file", metavar="FILE", type=click.Path(path_type=Path))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sheet", default=None, help="The sheet to read (default: the first).")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="HEADER=FIELD",
    help="Read a column as a plan field (repeatable); FIELD=ignore leaves it out.",
)
@click.option(
    "--timezone", default=None, help="The client's IANA zone; the sheet's dates are in it."
)
@click.option(
    "--start", default=None, metavar="TIME", help="The window's start when the sheet has no dates."
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def import_cmd(
    sheet_file: Path,
    output: Path,
    sheet: str | None,
    maps: tuple[str, ...],
    timezone: str | None,
    start: str | None,
    force: bool,
) -> None:
    """Make a plan from a runbook spreadsheet (FILE: .xlsx, .xlsm or .csv).

    Headers from the Cutover.com template, MS Project and Smartsheet exports are recognised;
    every problem names its cell (exit 2)."""
    from ..sheets import SheetInvalid
    from ..sheets.importer import ImportOptions, import_plan

    if output.exists() and not force:
        raise click.BadParameter(
            f"{inert(str(output), limit=200)} exists (add --force to overwrite it)",
            param_hint="--output",
        )
    ref = _schema_ref(output)
    options = ImportOptions(sheet, _mapping(maps), timezone, start, ref or "plan.schema.json")
    try:
        done = import_plan(sheet_file, options)
    except SheetInvalid as exc:
        for problem in exc.problems:
            echo(str(problem), err=True)
        raise SystemExit(2) from None
    for warning in done.warnings[:100]:
        echo(str(warning), err=True)
    if len(done.warnings) > 100:
        echo(f"… and {len(done.warnings) - 100} more warnings", err=True)
    try:
        output.write_text(done.text, encoding="utf-8")
    except OSError as exc:
        echo(f"error: cannot write {inert(str(output), limit=200)}: {exc.strerror}", err=True)
        raise SystemExit(2) from None
    echo(f"{output}: {done.steps} steps written; {done.placeholders} placeholder(s) to fill in")
    echo(f"  next: cutover check {output}")
    if ref is None:
        echo(f"  editor help: cutover schema > {output.parent / 'plan.schema.json'}")


@cli.command("export-plan")
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--xlsx", "xlsx", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite the workbook if it exists.")
def export_plan_cmd(plan: Path, xlsx: Path, force: bool) -> None:
    """Write PLAN as a workbook for reviewers: one row per step with its planned start and end,
    gates and sign-offs in words. `cutover import` of it gives the plan back."""
    from ..plan import load_plan
    from ..sheets.exporter import export_plan

    if xlsx.suffix.lower() != ".xlsx":
        raise click.BadParameter("the workbook's name must end in .xlsx", param_hint="--xlsx")
    if xlsx.exists() and not force:
        raise click.BadParameter(
            f"{inert(str(xlsx), limit=200)} exists (add --force to overwrite it)",
            param_hint="--xlsx",
        )
    document = load_plan(plan)
    try:
        steps = export_plan(document, xlsx)
    except OSError as exc:
        echo(f"error: cannot write {inert(str(xlsx), limit=200)}: {exc.strerror}", err=True)
        raise SystemExit(2) from None
    echo(f"{xlsx}: {steps} steps (sheets Steps, People, Phases; Plan data hidden)")
