"""A 100,000-event journal (the shipped plan, realistic mix): HTML report, export, verify.
Targets (issue 7): report <= 3 s, export <= 5 s, verify <= 3 s; median of 3 each."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from _common import build_journal, median_time

from cutover_console.journal import JournalReader
from cutover_console.report.bundle import export, signing_key, verify_bundle
from cutover_console.report.document import build
from cutover_console.report.render import html_document
from cutover_console.runbook.fold import CutoverState

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "big.sqlite"
        build_journal(journal, N)
        key = signing_key(Path(tmp) / "key")

        def report() -> None:
            with JournalReader(journal) as reader:
                events = list(reader.events())
            html = html_document(build(CutoverState.from_events(events), events))
            (Path(tmp) / "r.html").write_text(html)

        def do_export() -> None:
            out = Path(tmp) / "bundle"
            shutil.rmtree(out, ignore_errors=True)
            export(journal, out, key)

        def do_verify() -> None:
            assert verify_bundle(Path(tmp) / "bundle").ok

        r, r_all = median_time(report, runs=3)
        e, e_all = median_time(do_export, runs=3)
        v, v_all = median_time(do_verify, runs=3)
    fmt = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    print(f"{N} events: HTML report {r:.2f} s ({fmt(r_all)}) target <= 3 s")
    print(f"  export {e:.2f} s ({fmt(e_all)}) target <= 5 s")
    print(f"  verify bundle {v:.2f} s ({fmt(v_all)}) target <= 3 s")


if __name__ == "__main__":
    main()
