"""`cutover check`: wall time of the real command (a fresh interpreter each run) on the shipped plan
and on 1,000/3,000/10,000-step chains (issue 14: linear, 10,000 steps <= 3 s), and time and peak
RSS on hostile inputs (issue 12: every one refused with exit 2 in < 10 s and < 500 MB).

Run from the repository root: `.venv/bin/python benchmarks/check_plan.py [--quick]`.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import ROOT, SHIPPED

RUNS = 5
TIMEOUT_S = 60.0
PROBE = (
    "import sys\n"
    "from cutover_console.cli import cli\n"
    f"cli.main(['check', {str(SHIPPED)!r}], standalone_mode=False)\n"
    "print('textual loaded:', 'textual' in sys.modules, file=sys.stderr)\n"
)
SMALL = (ROOT / "tests" / "plans" / "small.yaml").read_text(encoding="utf-8")
HOSTILE = ROOT / "tests" / "plans" / "hostile"
CHAIN_HEAD = """version: 1
cutover:
  id: chain
  name: Chain
  client: Bench
  timezone: America/Chicago
  window: {start: "2026-12-05 06:00", end: "2027-12-06 22:00"}
people:
  - {id: lena, name: Lena, roles: [lead]}
phases:
  - {id: p, title: P}
steps:
"""


def chain(n: int, *, backwards: bool = False, dep_prefix: str = "s") -> str:
    lines = [CHAIN_HEAD]
    for i in range(n):
        dep = i + 1 if backwards else i - 1
        deps = f", depends_on: [{dep_prefix}{dep}]" if 0 <= dep < n else ""
        lines.append(
            f"  - {{id: s{i}, title: Step {i}, phase: p, owner: lead, duration: 1m{deps}}}\n"
        )
    return "".join(lines)


# The child reports its own high-water RSS: wait4()'s ru_maxrss would count what the forking
# parent held (Linux carries the pre-exec peak over), and this parent holds big inputs.
CHILD = (
    "import atexit, os, resource, runpy, sys\n"
    "def peak():\n"
    "    try:\n"
    "        with open('/proc/self/status') as f:\n"
    "            kb = int(next(ln.split()[1] for ln in f if ln.startswith('VmHWM')))\n"
    "    except OSError:\n"
    "        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    with open(os.environ['BENCH_PEAK_FILE'], 'w') as f:\n"
    "        f.write(str(kb))\n"
    "atexit.register(peak)\n"
    "sys.argv = ['cutover', 'check', *sys.argv[1:]]\n"
    "runpy.run_module('cutover_console', run_name='__main__', alter_sys=True)\n"
)


def run(*args: str) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MB, exit status) of one `cutover check ARGS`; -9 = killed
    after TIMEOUT_S."""
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
    return (
        statistics.median(s[0] for s in samples),
        max(s[1] for s in samples),
        samples[-1][2],
    )


def hostile_inputs(tmp: Path) -> list[tuple[str, Callable[[], str]]]:
    """(what, a function making the input and returning its path); FIFO and /dev/zero as is."""

    def write(name: str, text: Callable[[], str]) -> Callable[[], str]:
        def make() -> str:  # made when measured: the parent stays small
            path = tmp / name
            path.write_text(text(), encoding="utf-8")
            return str(path)

        return make

    def fifo() -> str:
        path = tmp / "fifo.yaml"
        if not path.exists():
            os.mkfifo(path)
        return str(path)

    title = "    title: Freeze deployments"

    def described(size: int) -> str:
        body = ("    " + "x" * 95 + "\n") * (size // 100)
        return SMALL.replace("  timezone:", f"  description: |\n{body}  timezone:", 1)

    def titled(text: str) -> str:
        return SMALL.replace(title + "\n", f"    title:{text}\n", 1)

    flow = "\n" + "      [\n" * 10_000 + "      ]" + "\n      ]" * 9_999
    block = "\n" + "\n".join(" " * (6 + 2 * i) + "-" for i in range(2_000))

    def ring() -> str:
        return chain(10_000, backwards=True).replace("1m}", "1m, depends_on: [s0]}")

    corpus = {
        "billion laughs (aliases)": "12-billion-laughs.yaml",
        "names: 10^7 from one range": "17-names-ten-million.yaml",
        "names: 10^9 from three ranges": "18-names-three-ranges.yaml",
        "!!python/object/apply on a list": "01-tag-python-apply-on-list.yaml",
    }
    return [
        ("/dev/zero", lambda: "/dev/zero"),
        ("a FIFO with no writer", fifo),
        ("a directory", lambda: str(tmp)),
        ("11 MB plan (a big description)", write("big.yaml", lambda: described(11_000_000))),
        ("9.5 MB valid plan (accepted)", write("under.yaml", lambda: described(9_500_000))),
        ("10,000 nested flow lists", write("deep.yaml", lambda: titled(flow))),
        ("2,000 nested block lists", write("block.yaml", lambda: titled(block))),
        (
            "600,000 scalars in one list",
            write("wide.yaml", lambda: "wide: [\n" + "  u,\n" * 600_000 + "]\n" + SMALL),
        ),
        ("a 50,000-character line", write("line.yaml", lambda: titled(" " + "x" * 50_000))),
        ("a 9,000-digit number", write("number.yaml", lambda: titled(" " + "9" * 9_000))),
        *((what, lambda name=name: str(HOSTILE / name)) for what, name in corpus.items()),
        ("10,000-step ring (one cycle)", write("ring.yaml", ring)),
        (
            "10,000 unknown dependencies",
            write("unknown.yaml", lambda: chain(10_000, dep_prefix="s-")),
        ),
        (
            "35,000 steps (near the value cap, accepted)",
            write("big-chain.yaml", lambda: chain(35_000)),
        ),
    ]


def main() -> None:
    quick = "--quick" in sys.argv
    runs = 3 if quick else RUNS
    baseline = statistics.median(
        _time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))
        for _ in range(runs)
    )
    shipped, shipped_rss, _ = median_run(runs, str(SHIPPED))
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )
    print(
        f"cutover check (shipped plan, {runs} runs): median {shipped:.3f} s wall, peak "
        f"{shipped_rss} MB; bare interpreter start {baseline:.3f} s; target <= 0.5 s"
    )
    print(f"  {probe.stderr.strip()}")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        print("\n| steps | order | check | check --schedule | check --json | peak RSS |")
        print("|---:|---|---:|---:|---:|---:|")
        for n in (1_000, 3_000, 10_000):
            for backwards in (False, True):
                plan = tmp / f"chain-{n}-{backwards}.yaml"
                plan.write_text(chain(n, backwards=backwards), encoding="utf-8")
                cells, peak = [], 0
                for flag in ([], ["--schedule"], ["--json"]):
                    seconds, rss, status = median_run(runs, *flag, str(plan))
                    cells.append(f"{seconds:.2f} s" + (f" (exit {status})" if status else ""))
                    peak = max(peak, rss)
                order = "each depends on the one after" if backwards else "file order"
                print(f"| {n:,} | {order} | {' | '.join(cells)} | {peak} MB |")
        print("\n| hostile input | exit | wall | peak RSS |")
        print("|---|---:|---:|---:|")
        for what, make in hostile_inputs(tmp):
            seconds, rss, status = run(make())
            print(f"| {what} | {status} | {seconds:.2f} s | {rss} MB |")


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
