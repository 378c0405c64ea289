"""A step's automated action, whoever presses the button (the CLI, the console, the autopilot):
first a preview a person can read, then the run, whose result goes into the journal.

Both calls block (Route 53 is boto3; a command runs to its end): call them from a thread in an
event loop's world.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ..plan.model import Action
from .fold import CutoverState


@dataclass
class Prepared:
    action: Action
    lines: list[str]  # what will happen, one line per change (a command: the command itself)
    changes: list[Any] | None = None  # Route 53: the previewed record changes, run as previewed

    @property
    def route53(self) -> bool:
        return self.action.kind.startswith("route53.")


def prepare(action: Action, state: CutoverState) -> Prepared:
    """The preview. Raises when it cannot be made (no zone, no credentials, nothing to roll
    back): the message says why, and nothing was changed."""
    if action.kind.startswith("route53."):
        from . import route53

        changes = route53.preview(action, state)
        return Prepared(action, [c.describe() for c in changes], changes)
    from .command_action import preview

    return Prepared(action, preview(action).splitlines())


def execute(prepared: Prepared) -> dict[str, Any]:
    """Run what was previewed; never raises for a failed run (the result says so)."""
    if prepared.route53:
        from . import route53

        assert prepared.changes is not None
        result = route53.run(prepared.action, prepared.changes)
    else:
        from .command_action import run_command

        result = asyncio.run(run_command(prepared.action))
    result["preview"] = prepared.lines
    return result


def describe_result(result: dict[str, Any]) -> str:
    """What an action did, in the words of what it is: for Route 53 the change id, how long it
    took to be INSYNC and the records changed; for a command its exit status and time."""
    took = result.get("duration_s")
    if str(result.get("kind", "")).startswith("route53."):
        changes = result.get("changes") or []
        names = ", ".join(
            f"{c.get('name')} {c.get('type')} → {', '.join(c.get('after') or [])}"
            f" (TTL {c.get('after_ttl')})"
            for c in changes[:4]
        ) + (f", and {len(changes) - 4} more" if len(changes) > 4 else "")
        count = f"{len(changes)} record{'s' if len(changes) != 1 else ''}"
        change = result.get("change_id") or "no change id"
        if result.get("status") == "INSYNC":
            return f"Route 53 change {change} INSYNC after {took} s; {count} changed: {names}"
        if result.get("status") == "failed":
            return (
                f"Route 53 change failed after {took} s, nothing confirmed: {result.get('error')}"
            )
        return (
            f"Route 53 change {change} still {result.get('status')} after {took} s "
            f"(not confirmed); {count} sent: {names}"
        )
    if result.get("timed_out"):
        return f"timed out after {took} s"
    return f"exit {result.get('exit')} in {took} s"
