"""`cutover flows`: data-flow heartbeats of a plan, headless."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from ..clock import SystemClock
from ..plan import load_plan
from ..secrets import REDACT
from ..untrusted import LINE_LIMIT, json_text
from ..untrusted import text as literal
from . import cli
from .output import cells, console, json_out, styled


@cli.command("flows")
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--once", is_flag=True, help="Read every probe and reconciliation once, then exit.")
@click.option("--watch", is_flag=True, help="Follow the flows live until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the result as JSON.")
@click.option(
    "--journal",
    "-j",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Record changes, gate evidence and log lines in this journal (writer lock); "
    "the DNS switch time is read from it.",
)
def flows_command(plan: Path, once: bool, watch: bool, as_json: bool, journal: Path | None) -> None:
    """Per flow and per site: when data last arrived on the old and on the new side, which flows
    are late or dead, which sites straggle, whether old and new hold the same data."""
    from ..heartbeats.flows import FlowMonitor

    document = load_plan(plan)
    if not document.plan.flows and not document.plan.reconcile:
        raise click.UsageError(f"{plan} has no `flows:` or `reconcile:` to follow")
    if once and watch:
        raise click.UsageError("choose --once or --watch")
    clock = SystemClock()
    recorder = _recorder(journal, document.sha256) if journal else None
    switch = (lambda: recorder.cutover.state.dns_switched_at()) if recorder else None
    monitor = FlowMonitor(document.plan, clock, base=plan.resolve().parent, switch_at=switch)
    try:
        if not watch:
            asyncio.run(monitor.poll_all())
            if recorder:
                recorder.record(monitor)
            snapshot = monitor.snapshot()
            if as_json:
                json_out(REDACT(json_text(snapshot, indent=2)))
            else:
                console().print(_tables(snapshot))
            return
        asyncio.run(_watch(monitor, recorder, document.plan.logs))
    finally:
        if recorder:
            recorder.cutover.writer.close()


def _recorder(journal: Path, plan_sha: str) -> Any:
    from ..heartbeats.journaling import FlowJournal
    from ..journal import JournalWriter
    from ..runbook import Cutover

    writer = JournalWriter.open(journal, command="cutover flows")
    cutover = Cutover(writer, SystemClock())
    if cutover.state.document.sha256 != plan_sha:
        writer.close()
        raise click.UsageError(
            f"{journal} holds a different version of this plan; record it with `cutover revise`"
        )
    return FlowJournal(cutover)


async def _watch(monitor: Any, recorder: Any, log_sources: list[Any]) -> None:
    from rich.console import Group
    from rich.live import Live

    from ..heartbeats.logs import LogFollower

    stop = asyncio.Event()
    follower = LogFollower(log_sources, monitor.clock)
    if recorder:
        follower.listeners.append(recorder.record_logs)

    def changed() -> None:
        if recorder:
            recorder.record(monitor)

    tasks = [
        asyncio.create_task(monitor.run(stop, changed)),
        asyncio.create_task(follower.run(stop)),
    ]
    with Live(console=console(), refresh_per_second=2) as live:
        try:
            while True:
                lines = [
                    literal(
                        f"{ln.at:%H:%M:%S} {ln.source:<18} {ln.level:<5} {ln.text}",
                        limit=LINE_LIMIT,
                    )
                    for ln in list(follower.lines)[-12:]
                ]
                errors = [
                    literal(f"{k}: {v}", "red", limit=LINE_LIMIT)
                    for k, v in follower.errors.items()
                ]
                live.update(Group(_tables(monitor.snapshot()), *errors, *lines))
                await asyncio.sleep(1)
        except (KeyboardInterrupt, asyncio.CancelledError):
            pass
        finally:
            stop.set()
            for task in tasks:
                await task


def _tables(snapshot: dict[str, Any]) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    flows = Table(
        title=f"Data flows at {snapshot['observed_at']}"
        + (f" — DNS switched {snapshot['switch_at']}" if snapshot["switch_at"] else ""),
        header_style="bold",
    )
    for col in ("flow", "system", "old side", "new side", "sites", "stragglers"):
        flows.add_column(col, overflow="fold")
    colours = {
        "healthy": "green",
        "late": "yellow",
        "dead": "red",
        "failing": "bold red",
        "no data": "dim",
        "unknown": "dim",
    }

    def side(entry: dict[str, Any] | None) -> Text:
        if entry is None:
            return Text("—")
        text = styled(entry["status"], colours[entry["status"]])
        if entry["silence_s"] is not None:
            text.append(f" ({entry['silence_s'] // 60} min ago)")
        if entry["status"] == "failing" and entry["reading"]:
            text.append("\n").append_text(literal(entry["reading"]["detail"], limit=80))
        return text

    for f in snapshot["flows"]:
        sites = f["sites"]
        flows.add_row(
            *cells(
                f["id"],
                f["system"],
                side(f["sides"].get("old")),
                side(f["sides"].get("new")),
                ", ".join(f"{n} {k}" for k, n in sorted(sites["counts"].items())) if sites else "",
                ", ".join(sites["stragglers"][:8]) if sites else "",
            )
        )
    recs = Table(title="reconciliation", header_style="bold")
    for col in ("check", "result", "detail"):
        recs.add_column(col)
    for rec_id, result in snapshot["reconciliations"].items():
        if result is None:
            recs.add_row(*cells(rec_id, "pending", ""))
            continue
        colour = {"match": "green", "mismatch": "bold red"}.get(result["status"], "red")
        detail = result.get("detail") or (
            f"{result['rows']} rows"
            if result["status"] == "match"
            else f"only old: {result['only_old'][:2]} only new: {result['only_new'][:2]}"
        )
        recs.add_row(*cells(rec_id, styled(result["status"], colour), literal(detail, limit=100)))
    return Group(flows, recs)
