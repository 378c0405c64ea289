"""`cutover demo --headless`: the full rehearsal weekend at speed 120 (target <= 60 s wall), and the
same demo from a fresh virtual environment with nothing but this package installed.

Targets (issue 8):
- `cutover demo --headless --speed 120` completes in <= 60 s wall on this machine (median of 3;
  speed 60 runs beside it as the baseline, to show where the time goes: world minutes or overhead);
- `pip install` into a fresh venv, then the headless demo works with no system packages beyond
  Python: run with PATH holding only the venv's bin (no dig, unbound, nsd, sqlite3, ssh on it) and
  checked not to import pyodbc.

Usage: python benchmarks/demo.py [--runs 3] [--no-venv]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_demo(python: str, speed: int, workdir: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, world minutes) of one headless demo; raises if it did not complete."""
    started = time.monotonic()
    done = subprocess.run(
        [
            python,
            "-X",
            "importtime",
            "-m",
            "cutover_console",
            "demo",
            "--headless",
            "--speed",
            str(speed),
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"demo failed (exit {done.returncode}):\n{done.stdout[-3000:]}")
    if re.search(r"\|\s+pyodbc\b", done.stderr):
        raise SystemExit("the demo imported pyodbc")
    match = re.search(r"complete: (\d+) world minutes", done.stdout)  # lived (a night skipped)
    assert match, done.stdout
    return wall, float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-venv", action="store_true")
    args = parser.parse_args()
    env = {**os.environ}
    results: dict[int, list[tuple[float, float]]] = {60: [], 120: []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            for speed in (120, 60):  # side by side, alternating
                work = Path(tmp) / f"run-{speed}-{n}"
                work.mkdir()
                results[speed].append(run_demo(sys.executable, speed, work, env))
                print(
                    f"speed {speed} run {n + 1}: {results[speed][-1][0]:.1f} s wall, "
                    f"{results[speed][-1][1]:.0f} world minutes",
                    flush=True,
                )
        for speed, runs in results.items():
            walls = [w for w, _ in runs]
            world = statistics.median(m for _, m in runs)
            wall = statistics.median(walls)
            print(
                f"speed {speed}: median {wall:.1f} s wall for {world:.0f} world minutes "
                f"(ideal {world * 60 / speed:.1f} s; overhead {wall - world * 60 / speed:.1f} s)"
            )
        if args.no_venv:
            return
        venv = Path(tmp) / "fresh"
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", str(ROOT)],
            capture_output=True,
            text=True,
        )
        if pip.returncode != 0:
            raise SystemExit(pip.stderr[-2000:])
        installed = time.monotonic() - t0
        bare = {
            "PATH": str(venv / "bin"),  # nothing from the system: no dig, unbound, sqlite3, ssh
            "HOME": tmp,
            "LANG": "C.UTF-8",
        }
        work = Path(tmp) / "fresh-run"
        work.mkdir()
        wall, world = run_demo(str(venv / "bin" / "python"), 120, work, bare)
        print(
            f"fresh venv: pip install {installed:.0f} s; demo {wall:.1f} s wall, "
            f"{world:.0f} world minutes, PATH={bare['PATH']!r} only, pyodbc never imported"
        )


if __name__ == "__main__":
    main()
