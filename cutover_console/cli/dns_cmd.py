"""`cutover dns`: DNS propagation of a plan's records across resolvers, headless."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..clock import SystemClock
from ..plan import load_plan
from ..untrusted import json_text
from ..untrusted import text as literal
from . import cli
from .output import cells, console, json_out, styled


@cli.command("dns")
@click.argument("plan", type=click.Path(path_type=Path))
@click.option("--once", is_flag=True, help="One sweep of every resolver and record, then exit.")
@click.option("--watch", is_flag=True, help="Follow propagation live (TTL-scheduled) until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print the sweep as JSON.")
@click.option(
    "--journal",
    "-j",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Record changes and DNS gate evidence in this journal (takes the writer lock).",
)
@click.option("--timeout", default=2.0, show_default=True, help="Seconds to wait per query.")
@click.option("--concurrency", default=32, show_default=True, help="Queries in flight at most.")
def dns_command(
    plan: Path,
    once: bool,
    watch: bool,
    as_json: bool,
    journal: Path | None,
    timeout: float,
    concurrency: int,
) -> None:
    """Which resolvers serve the new value of each record, which still hold the old one (and
    until when), which are failing, and what the authorities publish."""
    from ..dns.evidence import preflight
    from ..dns.monitor import PropagationMonitor

    document = load_plan(plan)
    section = document.plan.dns
    if section is None or not section.records:
        raise click.UsageError(f"{plan} has no `dns: records:` to follow")
    if once and watch:
        raise click.UsageError("choose --once or --watch")
    clock = SystemClock()
    monitor = PropagationMonitor(section, clock, concurrency=concurrency, timeout=timeout)
    recorder = _recorder(journal, document.sha256) if journal else None

    def with_preflight(snapshot: dict[str, Any]) -> dict[str, Any]:
        now = clock.now()
        history = recorder.ttl_history if recorder else {}
        for record, entry in zip(monitor.records, snapshot["records"], strict=True):
            entry["preflight"] = preflight(monitor, record, now, history.get(record.key)).as_json()
        return snapshot

    vantage = _vantage(section, clock, plan.parent) if section.vantage else None

    async def sweep() -> dict[str, Any]:
        if vantage is None:
            return await monitor.sweep()
        snapshot, seen = await asyncio.gather(monitor.sweep(), vantage.once())
        return {**snapshot, "vantage": seen}

    try:
        if not watch:
            snapshot = with_preflight(asyncio.run(sweep()))
            if recorder:
                recorder.record(monitor)
                if vantage is not None:
                    _vantage_recorder(recorder).record(vantage)
            if as_json:
                json_out(json_text(snapshot, indent=2))
            else:
                _print_tables(snapshot)
            return
        asyncio.run(_watch(monitor, recorder, with_preflight, vantage))
    finally:
        if recorder:
            recorder.cutover.writer.close()


def _vantage(section: Any, clock: Any, base: Path) -> Any:
    from ..dns.vantage.engine import VantageMonitor

    return VantageMonitor(section, clock, base=base)


def _vantage_recorder(recorder: Any) -> Any:
    from ..dns.vantage.journaling import VantageJournal

    return VantageJournal(recorder.cutover)


def _recorder(journal: Path, plan_sha: str):  # type: ignore[no-untyped-def]
    from ..dns.journaling import DnsJournal
    from ..journal import JournalWriter
    from ..runbook import Cutover

    writer = JournalWriter.open(journal, command="cutover dns")
    cutover = Cutover(writer, SystemClock())
    if cutover.state.document.sha256 != plan_sha:
        writer.close()
        raise click.UsageError(
            f"{journal} holds a different version of this plan; record it with `cutover revise`"
        )
    return DnsJournal(cutover)


async def _watch(monitor: Any, recorder: Any, decorate: Any, vantage: Any = None) -> None:
    from rich.live import Live

    stop = asyncio.Event()
    latest: dict[str, Any] = {}
    vantage_recorder = _vantage_recorder(recorder) if recorder and vantage else None

    def update(snapshot: dict[str, Any]) -> None:
        latest["s"] = snapshot
        if recorder:
            recorder.record(monitor)

    def vantage_update() -> None:
        if vantage_recorder is not None:
            vantage_recorder.record(vantage)

    def shown() -> dict[str, Any]:
        snapshot = decorate(monitor.snapshot())
        return {**snapshot, "vantage": vantage.snapshot()} if vantage is not None else snapshot

    with Live(console=console(), refresh_per_second=2, screen=False) as live:
        task = asyncio.create_task(monitor.run(stop, update))
        side = asyncio.create_task(vantage.run(stop, vantage_update)) if vantage else None
        try:
            while not task.done():
                if "s" in latest:
                    live.update(_tables(shown()))
                await asyncio.sleep(1)
        except (KeyboardInterrupt, asyncio.CancelledError):
            pass
        finally:
            stop.set()
            await task
            if side is not None:
                await side


def _eta(text: str | None) -> str:
    if not text:
        return ""
    when = datetime.fromisoformat(text)
    left = (when - SystemClock().now()).total_seconds()
    return f"{when.astimezone():%H:%M:%S}" + (f" (in {int(left)} s)" if left > 0 else " (due)")


def _tables(snapshot: dict[str, Any]) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = Text(f"DNS propagation at {snapshot['observed_at']}")
    if snapshot["quiet_period"]:
        title.append("  QUIET PERIOD (switch imminent)", style="bold yellow")
    records = Table(title=title, header_style="bold")
    for col in (
        "record",
        "authority",
        "% new",
        "new/healthy",
        "failed",
        "flips by",
        "TTL pre-flight",
    ):
        records.add_column(col)
    for r in snapshot["records"][:60]:
        s, a, pf = r["summary"], r["authority"], r.get("preflight", {})
        colour = "green" if s["percent_new"] >= 100 else "yellow" if s["percent_new"] else "red"
        authority = styled(
            f"{a['status']}" + (f" serial {a['serial']}" if a["serial"] is not None else "")
        )
        if not (a["agree"] or a["status"] == "pending"):
            authority.append(" disagree", style="red")
        records.add_row(
            *cells(
                f"{r['name']} {r['type']}",
                authority,
                styled(f"{s['percent_new']:g}", colour),
                f"{s['new']}/{s['healthy']}",
                str(s["failed"]) if s["failed"] else "",
                _eta(s["eta"]),
                literal("safe" if pf.get("safe_now") else pf.get("reason", ""), limit=60),
            )
        )
    if len(snapshot["records"]) > 60:
        records.caption = f"… and {len(snapshot['records']) - 60} more records"
    resolvers = Table(title="resolvers", header_style="bold")
    for col in ("resolver", "address", "operator", "region", "health", "new", "old", "failed"):
        resolvers.add_column(col)
    for index, res in enumerate(snapshot["resolvers"]):
        statuses = [r["resolvers"][index]["status"] for r in snapshot["records"]]
        health = styled("ok", "green") if res["healthy"] else styled(res["detail"] or "dead", "red")
        resolvers.add_row(
            *cells(
                res["name"],
                res["address"],
                res["operator"],
                res["region"],
                health,
                str(statuses.count("new")),
                str(sum(s in ("old", "mixed") for s in statuses)),
                str(sum(s in ("servfail", "refused", "timeout", "error") for s in statuses)),
            )
        )
    if snapshot.get("vantage"):
        from .vantage_tables import vantage_tables

        return Group(records, resolvers, *vantage_tables(snapshot["vantage"]))
    return Group(records, resolvers)


def _print_tables(snapshot: dict[str, Any]) -> None:
    console().print(_tables(snapshot))
