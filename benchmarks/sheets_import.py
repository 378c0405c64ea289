"""`cutover import` (issue 25): wall time and peak RSS of the real command, a fresh interpreter
per run, on a 5,000-row sheet (target <= 5 s, <= 300 MB) as XLSX and CSV, and on hostile files
(target: refused in <= 10 s, <= 500 MB). Baseline in the same run: `cutover check` of the shipped
plan (interpreter start, the plan model, a 43-step plan). `cutover export-plan` of the 5,000-step
plan is timed too.

Run from the repository root: `.venv/bin/python benchmarks/sheets_import.py [--quick]`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from _common import ROOT, SHIPPED

sys.path.insert(0, str(ROOT / "tests"))
from sheetbed import SHEET_HEAD, inline_row, raw_xlsx, write_csv, write_xlsx

RUNS = 5
TIMEOUT_S = 120.0
CHILD = (
    "import atexit, os, resource, runpy, sys\n"
    "def peak():\n"
    "    with open('/proc/self/status') as f:\n"
    "        kb = int(next(ln.split()[1] for ln in f if ln.startswith('VmHWM')))\n"
    "    with open(os.environ['BENCH_PEAK_FILE'], 'w') as f:\n"
    "        f.write(str(kb))\n"
    "atexit.register(peak)\n"
    "sys.argv = ['cutover', *sys.argv[1:]]\n"
    "runpy.run_module('cutover_console', run_name='__main__', alter_sys=True)\n"
)


def run(*args: str) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MB, exit status) of one `cutover ARGS`."""
    with tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        try:
            status = subprocess.run(
                [sys.executable, "-c", CHILD, *args],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "BENCH_PEAK_FILE": peak.name},
                timeout=TIMEOUT_S,
            ).returncode
        except subprocess.TimeoutExpired:
            status = -9
        seconds = time.perf_counter() - start
        kb = int(peak.read() or 0)
    return seconds, kb // 1024, status


def median_run(runs: int, *args: str) -> tuple[float, int, int]:
    samples = [run(*args) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples), samples[-1][2]


def runbook(n: int, as_csv: bool) -> list[list[object]]:
    """The Cutover.com template with n steps in 50 streams, each after the one before."""
    table: list[list[object]] = [
        ["Title", "Task ID", "Predecessor IDs", "Stream", "Planned Duration", "Assigned Team",
         "Planned Fixed Date/Time"],
    ]  # fmt: skip
    for i in range(n):
        fixed: object = datetime(2026, 12, 5, 6, 0) if i == 0 else None
        duration: object = "5m" if as_csv else timedelta(minutes=5)
        if as_csv and fixed is not None:
            fixed = "2026-12-05 06:00"
        table.append(
            [f"Step {i} of the runbook", str(i + 1), str(i) if i else "", f"Stream {i % 50}",
             duration, f"Team {i % 20}", fixed]
        )  # fmt: skip
    return table


def hostile(tmp: Path) -> list[tuple[str, Callable[[], Path]]]:
    def laughs() -> Path:
        entities = "".join(
            f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10 if i else "lol"}">' for i in range(10)
        )
        body = (
            f"{SHEET_HEAD}<sheetData>{inline_row(1, ['Title', 'Duration'])}"
            f"{inline_row(2, ['&l9;', '1h'])}</sheetData></worksheet>"
        )
        return raw_xlsx(tmp / "laughs.xlsx", body, doctype=f"<!DOCTYPE worksheet [{entities}]>")

    def bomb() -> Path:
        path = tmp / "bomb.xlsx"
        with (
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
            archive.open("xl/worksheets/sheet1.xml", "w") as part,
        ):
            for _ in range(1000):  # 1 GB of zeros, ~1 MB compressed
                part.write(b"\0" * (1 << 20))
        return path

    def million_xlsx(dimension: str = "A1:B1000000") -> Path:
        path = raw_xlsx(tmp / "million.xlsx", "")
        parts = {}
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not name.endswith("sheet1.xml"):
                    parts[name] = archive.read(name)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
            with archive.open("xl/worksheets/sheet1.xml", "w") as part:
                part.write(f'{SHEET_HEAD}<dimension ref="{dimension}"/><sheetData>'.encode())
                for start in range(1, 1_000_001, 10_000):
                    part.write(
                        "".join(
                            f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>s{n}</t></is></c>'
                            f'<c r="B{n}" t="inlineStr"><is><t>1h</t></is></c></row>'
                            for n in range(start, start + 10_000)
                        ).encode()
                    )
                part.write(b"</sheetData></worksheet>")
        return path

    def million_csv() -> Path:
        path = tmp / "million.csv"
        path.write_text("Title,Duration\n" + "step,1h\n" * 1_000_000, encoding="utf-8")
        return path

    def formulas() -> Path:
        table = [["Title", "Duration (min)"]] + [[f"s{i}", f"={i}+1"] for i in range(5000)]
        return write_xlsx(tmp / "formulas.xlsx", table)

    def wrong_types() -> Path:
        table = [["Title", "Duration", "Predecessors"]] + [
            [f"s{i}", "soon", "x?"] for i in range(5000)
        ]
        return write_csv(tmp / "wrong.csv", table)

    return [
        ("billion laughs (XLSX)", laughs),
        ("zip bomb: 1 GB of zeros in a 1 MB XLSX", bomb),
        ("1,000,000 rows (XLSX, its <dimension> says so)", million_xlsx),
        ("1,000,000 rows (XLSX, <dimension> says 2)", lambda: million_xlsx("A1:B2")),
        ("1,000,000 rows (CSV)", million_csv),
        ("5,000 formulas without cached values", formulas),
        ("5,000 rows of wrong types (CSV)", wrong_types),
    ]


def main() -> None:
    runs = 2 if "--quick" in sys.argv else RUNS
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        base = median_run(runs, "check", str(SHIPPED))
        print(f"baseline `cutover check` shipped plan: {base[0]:.2f} s, {base[1]} MB")
        print("| input | exit | median wall | vs baseline | peak RSS |")
        print("|---|---:|---:|---:|---:|")
        for label, suffix in (("5,000 rows XLSX", ".xlsx"), ("5,000 rows CSV", ".csv")):
            path = tmp / f"big{suffix}"
            table = runbook(5000, suffix == ".csv")
            (write_csv if suffix == ".csv" else write_xlsx)(path, table)
            out = tmp / "big.yaml"
            args = ("import", str(path), "-o", str(out), "--timezone", "America/Chicago", "--force")
            seconds, mb, status = median_run(runs, *args)
            print(f"| {label} | {status} | {seconds:.2f} s | {seconds / base[0]:.1f}× | {mb} MB |")
        xlsx = tmp / "export.xlsx"
        seconds, mb, status = median_run(
            runs, "export-plan", str(tmp / "big.yaml"), "--xlsx", str(xlsx), "--force"
        )
        print(f"| export-plan, 5,000 steps | {status} | {seconds:.2f} s | "
              f"{seconds / base[0]:.1f}× | {mb} MB |")  # fmt: skip
        for label, make in hostile(tmp):
            path = make()
            size = path.stat().st_size
            seconds, mb, status = median_run(
                max(1, runs // 2),
                "import", str(path), "-o", str(tmp / "h.yaml"), "--timezone", "UTC",
                "--start", "2026-12-05 06:00", "--force",
            )  # fmt: skip
            print(f"| {label} ({size:,} bytes) | {status} | {seconds:.2f} s | "
                  f"{seconds / base[0]:.1f}× | {mb} MB |")  # fmt: skip
            os.unlink(path)


if __name__ == "__main__":
    main()
