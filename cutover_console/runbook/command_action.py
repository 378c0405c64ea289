"""Running a step's `command` action: a shell command shown in full before it runs, bounded by a
timeout, its output kept (redacted) for the journal."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from typing import Any

from ..plan.model import Action
from ..secrets import REDACT

OUTPUT_KEPT = 4000  # characters of output (the tail) kept in the journal


def preview(action: Action) -> str:
    """What the lead confirms: the exact command, or the parameters of another kind."""
    extra = action.model_extra or {}
    if action.kind == "command":
        return f"$ {extra['run']}\n(timeout {extra.get('timeout', 300)} s)"
    return "\n".join(
        [f"{action.kind}: {action.description}", *(f"  {k}: {v}" for k, v in extra.items())]
    )


async def run_command(action: Action) -> dict[str, Any]:
    """Run it; never raises for a failing command (a non-zero exit is a result)."""
    extra = action.model_extra or {}
    command = str(extra["run"])
    timeout = float(extra.get("timeout", 300))
    start = time.monotonic()
    proc = await asyncio.create_subprocess_shell(
        command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    timed_out = False
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, not just the shell
        output, _ = await proc.communicate()
    text = REDACT(output.decode("utf-8", "replace"))
    return {
        "kind": "command",
        "command": REDACT(command),
        "exit": None if timed_out else proc.returncode,
        "timed_out": timed_out,
        "duration_s": round(time.monotonic() - start, 3),
        "output": text[-OUTPUT_KEPT:],
    }
