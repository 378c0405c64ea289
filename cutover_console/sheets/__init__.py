"""Plans from the spreadsheets runbooks start in, and plans back to spreadsheets for reviewers.

`cutover import` reads XLSX/XLSM (openpyxl, with defusedxml refusing entity expansion) and CSV;
`cutover export-plan` writes XLSX. The spreadsheet libraries are imported inside the functions
that need them, never when this package is imported: `cutover note` must stay quick.

A spreadsheet is outside input: sizes are checked before a parser sees it, every problem names
its cell (`Sheet!C4`), and every string from it passes the untrusted-text boundary on its way to
a screen.
"""

from .problems import SheetInvalid, SheetProblem

__all__ = ["SheetInvalid", "SheetProblem"]
