"""The watcher child that `cutover serve` starts per SSH session: `python -m cutover_console.ui
JOURNAL`. Leaner than the full CLI (no click, no other commands), since twenty of them may run."""

from __future__ import annotations

import sys
from pathlib import Path

from ..runbook.session import WatchSession
from ..settings import SettingsError
from .app import WatchApp


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m cutover_console.ui JOURNAL", file=sys.stderr)
        return 2
    session = WatchSession(Path(argv[0]))
    try:
        WatchApp(session).run()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
