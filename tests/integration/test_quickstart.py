"""The README's Quick start, followed in tmux on the real demo: the keys it names do what it says,
and the exit prints commands that can be pasted back as they are."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from support import ROOT, require_binary

README = (ROOT / "README.md").read_text()


def quick_start() -> str:
    return README.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def test_quick_start_in_tmux(tmp_path: Path) -> None:
    tmux = require_binary("tmux")
    section = quick_start()
    # what the test follows is what the README says, near the top
    assert README.index("## Quick start") < README.index("## Commands")
    assert ".venv/bin/cutover demo" in section
    for key in ("`↑` `↓`", "`s` `c`", "`g` `a` `n`", "`1` `2` `3` `4`", "`?`", "`q`"):
        assert key in section
    cutover = str(ROOT / ".venv" / "bin" / "cutover")
    if not Path(cutover).exists():
        cutover = shutil.which("cutover") or cutover
    name = f"quickstart-{os.getpid()}"
    journal = tmp_path / "demo.sqlite"
    subprocess.run(
        [
            tmux,
            "new",
            "-d",
            "-s",
            name,
            "-x",
            "160",
            "-y",
            "45",
            "-c",
            str(tmp_path),
            f"{cutover} demo --journal {journal}; echo EXITED; sleep 30",
        ],
        check=True,
        env={**os.environ, "CUTOVER_CONFIG": "", "XDG_CONFIG_HOME": str(tmp_path)},
    )

    def screen() -> str:
        return subprocess.run(
            [tmux, "capture-pane", "-p", "-J", "-S", "-60", "-t", name],
            capture_output=True,
            text=True,
        ).stdout

    def wait_for(text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared:\n{screen()}")

    def keys(*typed: str) -> None:
        subprocess.run([tmux, "send-keys", "-t", name, *typed], check=True)
        time.sleep(0.4)

    try:
        wait_for("kickoff", timeout=90)
        first = wait_for("s Start")  # the footer: what applies to the focused step
        assert "REHEARSAL" in first and "c Complete" not in first
        keys("s")
        wait_for("c Complete")
        keys("c")
        # the cursor moved on to backup-old, whose detail is shown now
        wait_for("Back up")
        keys("s")
        wait_for("n Note")
        keys("n")
        wait_for("Note on backup-old")
        keys("backup-2026-12-05.bak", "Enter")
        keys("c")
        shown = wait_for("2/14 done")
        assert "backup-old" in shown
        keys("2")
        wait_for("old side")
        keys("?")
        help_screen = wait_for("Moving around")
        assert "question_mark" not in help_screen  # keys as people name them
        top = help_screen.index("Moving around")
        keys("PageDown")  # it scrolls: "Moving around" goes off the top
        deadline = time.monotonic() + 10
        while "Moving around" in screen() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "Moving around" not in screen() and top >= 0
        keys("End")
        wait_for("Remapping keys")
        keys("Escape")
        keys("q")
        ended = wait_for("EXITED")
        printed = re.search(r"report: (\S+) report --journal (\S+) -o report.html", ended)
        assert printed is not None, ended
        command = printed.group(1)
        # pasteable from where it was run: a path that exists there, or on the PATH
        assert (tmp_path / command).exists() or Path(command).exists() or shutil.which(command)
        assert Path(tmp_path / printed.group(2)).exists() or Path(printed.group(2)).exists()
    finally:
        subprocess.run([tmux, "kill-session", "-t", name], capture_output=True)
