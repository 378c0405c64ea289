"""A viewer's last words (issue 21): why an SSH viewer stopped, from the viewer to its server.

The server gives each viewer the write end of a pipe (its number in `CUTOVER_VIEWER_REPORT_FD`).
A viewer that stops on an error writes one line there before it exits; the server reads it once
the viewer has gone, writes it to the serve log and, as one line, to the client before the
channel closes. Both sides pass it through the untrusted-text boundary and the redactor: an
exception's message may quote a note's text or a resolved secret.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from ..secrets import REDACT
from ..untrusted import inert

REPORT_FD_ENV = "CUTOVER_VIEWER_REPORT_FD"
LIMIT = 300  # characters of a reason


def as_line(reason: str) -> str:
    """One redacted, inert line."""
    return inert(REDACT(" ".join(reason.split())), limit=LIMIT)


def describe(error: BaseException) -> str:
    """An exception as a reason: its type and message (never a traceback)."""
    message = str(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def report(reason: str) -> None:
    """In the viewer: tell the server why it stops (nothing when it was not started by one)."""
    fd = os.environ.get(REPORT_FD_ENV, "")
    if not fd.isdigit():
        return
    with contextlib.suppress(OSError):
        os.write(int(fd), (as_line(reason) + "\n").encode("utf-8", "replace"))


def say(reason: str) -> None:
    """In the viewer: why it cannot go on, to its server if it has one (which tells the client
    in one line), else on stderr."""
    if os.environ.get(REPORT_FD_ENV, "").isdigit():
        report(reason)
    else:
        print(f"cutover watch: {as_line(reason)}", file=sys.stderr)


def read_last_words(fd: int) -> str:
    """In the server, once the viewer has exited: its last line, or ''."""
    os.set_blocking(fd, False)
    data = b""
    with contextlib.suppress(OSError):
        while len(data) < 65536:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    lines = data.decode("utf-8", "replace").strip().splitlines()
    return as_line(lines[-1]) if lines else ""


def stopped_because(rc: int, last_words: str) -> str:
    """The one line the client and the serve log get for a viewer that ended on its own."""
    if last_words:
        return last_words
    if rc < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-rc).name}"
        return f"killed by signal {-rc}"
    return f"exit status {rc}"


__all__ = [
    "REPORT_FD_ENV",
    "as_line",
    "describe",
    "read_last_words",
    "report",
    "say",
    "stopped_because",
]
