"""A stand-in for the watch app, run by the warm parent in a forked child: it prints what the
child looks like from inside (as JSON on the PTY), then exits with 3, or sleeps when asked."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from typing import Any

NAMES = ("SIGCHLD", "SIGHUP", "SIGTERM", "SIGQUIT", "SIGINT", "SIGPIPE", "SIGUSR1", "SIGWINCH")


def _fd_targets() -> dict[int, str]:
    out = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own fd, closed meanwhile
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
    return out


class ProbeApp:
    def __init__(self, session: Any) -> None:
        self.session = session
        self.return_code = 3

    def run(self) -> None:
        facts = {
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "sid": os.getsid(0),
            "pgid": os.getpgid(0),
            "tcpgrp": os.tcgetpgrp(0),
            "env": dict(os.environ),
            "head": self.session.state.head_seq,
            "head_hash": self.session.state.head_hash,
            "textual": sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.")),
            "fds": _fd_targets(),
            "handlers": {n: repr(signal.getsignal(getattr(signal, n))) for n in NAMES},
            "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
            "size": list(os.get_terminal_size(1)),
        }
        sys.stdout.write("FACTS" + json.dumps(facts) + "END\n")
        sys.stdout.flush()
        if os.environ.get("PROBE") == "sleep":
            time.sleep(60)
