"""`cutover check`: validate a plan and summarise it."""

from __future__ import annotations

from pathlib import Path

import click

from ..plan import load_plan
from ..plan.schedule import planned
from ..plan.timeparse import format_duration
from ..untrusted import json_text
from . import cli
from .output import echo, json_out


@cli.command()
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--schedule", is_flag=True, help="Also print every step's planned start and end.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def check(plan: Path, schedule: bool, as_json: bool) -> None:
    """Validate PLAN; print a summary, or one line per problem (exit 2)."""
    document = load_plan(plan)
    p = document.plan
    zone = p.zone
    sched = planned(p)
    path = sched.critical_path()
    window = p.cutover.window
    slack = window.end - sched.end
    for warning in document.warnings:
        echo(str(warning), err=True)
    two_person = [s.id for s in p.steps if s.signoff and s.signoff.count >= 2]
    ponr = [s.id for s in p.steps if s.point_of_no_return]
    critical = sum((p.step(s).duration for s in path), start=window.end - window.end)
    if as_json:
        json_out(
            json_text(
                {
                    "plan": str(plan),
                    "sha256": document.sha256,
                    "cutover": p.cutover.id,
                    "phases": len(p.phases),
                    "steps": len(p.steps),
                    "people": len(p.people),
                    "critical_path": path,
                    "critical_path_s": critical.total_seconds(),
                    "planned_end": sched.end.astimezone(zone).isoformat(),
                    "window_end": window.end.isoformat(),
                    "fits_window": slack.total_seconds() >= 0,
                    "warnings": [str(w) for w in document.warnings],
                },
                indent=2,
            )
        )
        return
    fmt = "%a %Y-%m-%d %H:%M"
    echo(f"{plan}: OK ({len(document.warnings)} warning(s))")
    echo(f"  {p.cutover.name} — {p.cutover.client} ({p.cutover.timezone})")
    echo(
        f"  {len(p.phases)} phases, {len(p.steps)} steps, {len(p.people)} people; "
        f"{len(two_person)} two-person sign-offs; point of no return: "
        f"{', '.join(ponr) or 'none'}"
    )
    echo(
        f"  window:        {window.start.astimezone(zone):{fmt}} → "
        f"{window.end.astimezone(zone):{fmt} %Z} ({format_duration(window.end - window.start)})"
    )
    anchor = sched.slots[path[0]]
    anchored = {
        "not_before": f"{path[0]} may not start before {anchor.start.astimezone(zone):%a %H:%M}",
        "origin": "starts when the plan starts",
    }.get(anchor.driver, "")
    echo(
        f"  critical path: {len(path)} steps, {format_duration(critical)} of work, "
        f"{path[0]} → {path[-1]}" + (f" ({anchored})" if anchored else "")
    )
    verdict = (
        f"{format_duration(slack)} before the window ends"
        if slack.total_seconds() >= 0
        else f"{format_duration(-slack)} AFTER the window ends"
    )
    echo(f"  planned end:   {sched.end.astimezone(zone):{fmt} %Z} — {verdict}")
    if schedule:
        echo("")
        width = max(len(ph.id) for ph in p.phases)
        position = {step_id: i for i, step_id in enumerate(sched.order)}
        on_path = set(path)  # lookups by index and set: 10,000 steps stay linear
        for step_id in sorted(sched.order, key=lambda i: (sched.slots[i].start, position[i])):
            slot, step = sched.slots[step_id], p.step(step_id)
            mark = "*" if step_id in on_path else " "
            flags = " PONR" if step.point_of_no_return else ""
            if step.signoff:
                joiner = "+" if step.signoff.each_role else "/"
                flags += f" sign:{step.signoff.count}×{joiner.join(step.signoff.roles)}"
            echo(
                f" {mark} {slot.start.astimezone(zone):%a %H:%M}–{slot.end.astimezone(zone):%H:%M} "
                f"{step.phase:<{width}} {step_id:<28} {step.owner:<12}{flags}"
            )
        echo("\n  * on the critical path")
