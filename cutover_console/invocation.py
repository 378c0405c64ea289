"""How the person ran `cutover`, so the commands we print can be pasted back as they are: a
README user typed `.venv/bin/cutover`, someone with the venv active typed `cutover`."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path


def cutover_command(argv0: str | None = None) -> str:
    """The command that runs `cutover` again from the same working directory."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    name = Path(argv0).name
    if name in ("__main__.py", "-c", "") or name.endswith(".py"):
        return f"{Path(sys.executable).name} -m cutover_console"
    found = shutil.which(name)
    if found and os.path.exists(argv0) and os.path.samefile(found, argv0):
        return name  # on the PATH: the short name works
    if os.path.isabs(argv0):
        try:  # inside the working directory: say it as the README does (.venv/bin/cutover)
            relative = Path(argv0).relative_to(Path.cwd())
            return shlex.quote(str(relative if "/" in str(relative) else f"./{relative}"))
        except ValueError:
            return shlex.quote(argv0)
    return shlex.quote(argv0)


def shell_path(path: Path) -> str:
    """A path to paste: relative to the working directory when inside it."""
    try:
        shown = str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(path)
    return shlex.quote(shown)
