"""Running the real `cutover` on a pseudo-terminal, and reading a rendered document's text:
what the hostile-text path tests share."""

from __future__ import annotations

import html
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable


def on_pty(
    *args: str,
    seconds: float | None = None,
    when_shown: tuple[str, Callable[[], None]] | None = None,
    check: bool = False,
    typed: tuple[str, bytes] | None = None,
) -> str:
    """Run `cutover ARGS` with a pseudo-terminal as stdin, stdout and stderr; what the terminal
    got. With `seconds`, interrupt it (Ctrl-C) after that long, as a person watching would; with
    `when_shown` (text, action), run the action once the text is on the terminal, and count
    `seconds` from then; with `typed` (text, keys), type the keys once the text is shown (an
    answer to a prompt). With `check`, it must exit 0."""
    master, slave = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "240", "LINES": "60"}
    env.pop("NO_COLOR", None)  # colour, as on a person's screen
    proc = subprocess.Popen(
        [sys.executable, "-m", "cutover_console", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + (90 if seconds is None or when_shown else seconds)
    interrupted = False
    while True:
        if seconds is not None and not interrupted and time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGINT)
            interrupted, deadline = True, time.monotonic() + 15
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
        if typed is not None and typed[0] in out.decode("utf-8", "replace"):
            os.write(master, typed[1])
            typed = None
        if when_shown is not None and when_shown[0] in out.decode("utf-8", "replace"):
            when_shown[1]()
            when_shown = None
            deadline = time.monotonic() + (seconds or 90)
        if time.monotonic() > deadline + 30:
            break
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=15)
    os.close(master)
    if check:
        assert proc.returncode == 0, out.decode("utf-8", "replace")
    return out.decode("utf-8", "replace")


def text_of_html(document: str) -> str:
    """The characters an HTML document shows (styles and tags left out, entities decoded)."""
    body = re.sub(r"<style>.*?</style>", "", document, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", body))
