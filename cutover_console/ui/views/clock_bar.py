"""The clock bar: now (client and local), the window, the forecast end (or when the cutover
completed), how long a rollback stays possible (warned at 15 and 5 minutes, unmissable once
passed), overruns and the journal head. And the banner that marks the end."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from ...archive.live import witness_text
from ...invocation import cutover_command, shell_path
from ...runbook.fold import CutoverState
from ...timestamps import day_time, short_duration
from ...untrusted import inert
from ..model import CutoverView
from .shown import show

WARN_AT = (timedelta(minutes=15), timedelta(minutes=5))


def rollback_deadline(view: CutoverView, now: datetime) -> tuple[str, str]:
    """The point-of-no-return part of the clock bar, and its style."""
    ponr = view.point_of_no_return
    if ponr is None:
        return "", ""
    if ponr.passed_at:
        return (
            f" · POINT OF NO RETURN PASSED {day_time(ponr.passed_at)}: no rollback ",
            "bold white on red",
        )
    until = ponr.rollback_possible_until
    if until is None:
        return "", ""
    left = until - now
    if left <= timedelta(0):  # the planned moment went by and the step is not done yet
        return (
            f" · ROLLBACK DEADLINE {day_time(until)} PASSED {short_duration(-left)} ago:"
            f" rollback possible only until {ponr.step} completes ",
            "bold white on red",
        )
    if left <= WARN_AT[1]:
        return (
            f" · ROLLBACK POSSIBLE FOR {short_duration(left)} ONLY (until {day_time(until)}) ",
            "bold black on yellow",
        )
    if left <= WARN_AT[0]:
        return (
            f" · rollback possible for {short_duration(left)} (until {day_time(until)})",
            "bold yellow",
        )
    return f" · rollback still possible until {day_time(until)}", "bold"


class ClockBar(Static):
    """Now (client and local), the window, the forecast end, the point of no return, the head."""

    journal: Path | None = None  # whose witness publisher to show, if one runs in this process
    comms_alert: str = ""  # overdue updates, deliveries abandoned (views/comms.py)

    def render_state(
        self, state: CutoverState, now: datetime, view: CutoverView, watchers: str = ""
    ) -> None:
        plan = state.plan
        zone = plan.zone
        window = plan.cutover.window
        left = window.end - now
        done, total = state.progress()
        complete = view.complete
        line1 = Text(no_wrap=True, overflow="ellipsis")
        line1.append(f" {inert(plan.cutover.name, limit=40)} ", style="bold reverse")
        if state.rehearsal:
            line1.append(f" {state.mode.upper()} ", style="bold black on yellow")
        else:
            line1.append(" LIVE ", style="bold white on red")
        line1.append(f" {now.astimezone(zone):%a %H:%M:%S %Z}", style="bold")
        line1.append(f" ({now.astimezone():%H:%M %Z} here) · ")
        line1.append(f"window {day_time(window.start, zone)}–{day_time(window.end, zone)}")
        line1.append(
            f" ({short_duration(left)} left)" if left.total_seconds() > 0 else " (window closed)",
            style="bold red" if left < timedelta(hours=1) and not complete else "",
        )
        if complete:
            line2 = Text(f" {done}/{total} done · ", no_wrap=True, overflow="ellipsis")
            line2.append(
                f"CUTOVER COMPLETE at {day_time(view.finished_at, zone)}", style="bold green"
            )
        else:
            line2 = Text(
                f" {done}/{total} done · forecast end {day_time(view.forecast_end)} ",
                no_wrap=True,
                overflow="ellipsis",
            )
            line2.append(
                "fits the window" if view.fits_window else "OVERRUNS THE WINDOW",
                style="green" if view.fits_window else "bold red",
            )
        deadline, style = rollback_deadline(view, now)
        ponr = view.point_of_no_return
        if deadline and not (complete and ponr is not None and not ponr.passed_at):
            line2.append(deadline, style=style)
        overruns = [s.id for s in view.steps if s.overrun]
        if overruns and not complete:
            line2.append(f" · OVERRUN: {', '.join(overruns[:3])}", style="bold red")
        if state.head is not None:
            line2.append(f" · head {state.head.seq}:{state.head.hash[:12]}", style="cyan")
        witness = witness_text(view.archive, self.journal)
        if witness:
            line2.append(f" · {witness}", style="bold red" if "FAULT" in witness else "green")
        if self.comms_alert:
            line2.append(f" · {inert(self.comms_alert, limit=120)}", style="bold white on red")
        if watchers:
            line2.append(f" · {inert(watchers, limit=80)}", style="italic")
        show(self, Text("\n").join([line1, line2]), fixed_size=True)  # two lines, always


class FinishedBanner(Static):
    """Shown once every step is done or skipped: when, the outcome, and the commands to run
    next, with this journal's path, in the form the person ran `cutover` (so they paste)."""

    def render_state(self, state: CutoverState, view: CutoverView) -> None:
        if not view.complete:
            self.set_class(False, "complete")
            return
        journal = getattr(getattr(self.app, "session", None), "reader", None)
        path = Path(getattr(journal, "path", "JOURNAL"))
        skipped = sum(1 for s in view.steps if s.status == "skipped")
        done = len(view.steps) - skipped
        overrides = view.overrides
        outcome = (
            f"{done} done"
            + (f", {skipped} skipped" if skipped else "")
            + (f", {overrides} override(s) on record" if overrides else ", no override")
        )
        run = cutover_command()
        j = shell_path(path)
        out = shell_path(path.with_suffix(""))
        text = Text(no_wrap=False)
        text.append(
            f"✔ Cutover complete at {day_time(view.finished_at, state.plan.zone)} — "
            f"{outcome}. Next: ",
            style="bold",
        )
        text.append(f"{run} report -j {j} -o {out}-report.html", style="bold reverse")
        text.append("  ·  ")
        text.append(f"{run} export -j {j} -o {out}-bundle", style="bold reverse")
        show(self, text)
        self.set_class(True, "complete")
