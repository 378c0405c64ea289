"""`python -m cutover_console.service JOURNAL [--no-engines] [--base DIR]`: the journal service
in the foreground (what `cutover run` and `cutover service start` launch, detached)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..journal import JournalError, JournalLocked
from ..secrets import RedactingStream
from .server import main


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m cutover_console.service")
    parser.add_argument("journal", type=Path)
    parser.add_argument("--no-engines", action="store_true")
    parser.add_argument("--base", type=Path, default=None)
    args = parser.parse_args(argv)
    # the service's log (its stderr) is read by people and attached to tickets: what reaches it
    # (tracebacks, warnings, messages quoting a driver's error) is redacted like the journal
    sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    try:
        main(args.journal, engines=not args.no_engines, base=args.base)
    except JournalLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except JournalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
