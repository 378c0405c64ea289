"""The watcher child that `cutover serve` starts per SSH session: `python -m cutover_console.ui
JOURNAL`. Leaner than the full CLI (no click, no other commands), since twenty of them may run."""

from __future__ import annotations

import sys
from pathlib import Path

from ..journal import JournalError
from ..runbook.session import WatchSession
from ..settings import SettingsError
from ..sshwatch.last_words import describe, say
from .app import WatchApp


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m cutover_console.ui JOURNAL", file=sys.stderr)
        return 2
    try:
        session = WatchSession(Path(argv[0]))
    except JournalError as exc:
        say(str(exc))  # `cutover serve` tells the client in one line (issue 21)
        return 2
    try:
        app = WatchApp(session)
        app.run()
        app.report_last_words()
        return int(app.return_code or 0)
    except SettingsError as exc:
        say(str(exc))
        return 2
    except Exception as exc:  # no traceback on a teammate's terminal: the reason, in one line
        say(describe(exc))
        return 1
    finally:
        session.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
