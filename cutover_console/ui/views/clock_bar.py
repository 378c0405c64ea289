"""The clock bar: now (client and local), the window, the forecast end, the point of no return,
the journal head."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual.widgets import Static

from ...runbook.fold import CutoverState
from ...timestamps import day_time, parse_iso, short_duration
from ...untrusted import inert


class ClockBar(Static):
    """Now (client and local), the window, the forecast end, the point of no return, the head."""

    def render_state(
        self, state: CutoverState, now: datetime, summary: dict[str, Any], watchers: str = ""
    ) -> None:
        plan = state.plan
        zone = plan.zone
        window = plan.cutover.window
        left = window.end - now
        done, total = state.progress()
        forecast = parse_iso(summary["forecast_end"])
        line1 = Text(no_wrap=True, overflow="ellipsis")
        line1.append(f" {inert(plan.cutover.name, limit=40)} ", style="bold reverse")
        if state.rehearsal:
            line1.append(f" {state.mode.upper()} ", style="bold black on yellow")
        line1.append(f" {now.astimezone(zone):%a %H:%M:%S %Z}", style="bold")
        line1.append(f" ({now.astimezone():%H:%M %Z} here) · ")
        line1.append(f"window {day_time(window.start, zone)}–{day_time(window.end, zone)}")
        line1.append(
            f" ({short_duration(left)} left)" if left.total_seconds() > 0 else " (window closed)",
            style="bold red" if left < timedelta(hours=1) else "",
        )
        line2 = Text(
            f" {done}/{total} done · forecast end {day_time(forecast)} ",
            no_wrap=True,
            overflow="ellipsis",
        )
        line2.append(
            "fits the window" if summary["fits_window"] else "OVERRUNS THE WINDOW",
            style="green" if summary["fits_window"] else "bold red",
        )
        ponr = summary["point_of_no_return"]
        if ponr:
            if ponr["passed_at"]:
                line2.append(
                    f" · point of no return passed {day_time(ponr['passed_at'])}",
                    style="bold red",
                )
            else:
                line2.append(
                    f" · rollback still possible until {day_time(ponr['rollback_possible_until'])}",
                    style="bold",
                )
        overruns = [s["id"] for s in summary["steps"] if s["overrun"]]
        if overruns:
            line2.append(f" · OVERRUN: {', '.join(overruns[:3])}", style="bold red")
        if state.head is not None:
            line2.append(f" · head {state.head.seq}:{state.head.hash[:12]}", style="cyan")
        if watchers:
            line2.append(f" · {inert(watchers, limit=80)}", style="italic")
        self.update(Text("\n").join([line1, line2]))
