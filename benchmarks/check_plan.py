"""`cutover check` on the shipped plan: wall time of the real command (fresh interpreter each run),
and the modules it loaded (textual must not be among them). Target (issue 2): <= 0.5 s."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from _common import SHIPPED

RUNS = 7
PROBE = (
    "import sys\n"
    "from cutover_console.cli import cli\n"
    f"cli.main(['check', {str(SHIPPED)!r}], standalone_mode=False)\n"
    "print('textual loaded:', 'textual' in sys.modules, file=sys.stderr)\n"
)


def main() -> None:
    samples, baseline = [], []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "cutover_console", "check", str(SHIPPED)],
            check=True,
            capture_output=True,
        )
        samples.append(time.perf_counter() - start)
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )
    print(
        f"cutover check (shipped plan, {RUNS} runs): median {statistics.median(samples):.3f} s "
        f"wall; bare interpreter start {statistics.median(baseline):.3f} s; target <= 0.5 s"
    )
    print(f"  {probe.stderr.strip()}")


if __name__ == "__main__":
    main()
