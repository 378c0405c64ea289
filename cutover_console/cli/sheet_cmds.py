"""`cutover schema`, `cutover import` and `cutover export-plan`: the plan format for editors, and
plans from and back to the spreadsheets runbooks start in.

The spreadsheet libraries (openpyxl, defusedxml) are imported by the two spreadsheet commands
only, from inside `cutover_console.sheets`.
"""

from __future__ import annotations

import click

from . import cli


@cli.command()
def schema() -> None:
    """Print the plan format as a JSON Schema (draft-07, for YAML editors).

    Regenerate the committed copy with: cutover schema > schema/plan.schema.json"""
    from ..plan.editor_schema import schema_text

    click.echo(schema_text(), nl=False)
