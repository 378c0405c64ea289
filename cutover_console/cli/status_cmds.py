"""Read-only commands: status, verify, events. They never take the writer lock."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from ..clock import SystemClock
from ..journal import Checkpoint, JournalReader, behind_recorded_head
from ..plan.timeparse import format_duration
from ..runbook import load_state, status_summary
from ..runbook.summary import STATUS_STYLE
from ..untrusted import LINE_LIMIT, inert, json_text
from . import cli
from .options import journal_option
from .output import cells, console, styled


@cli.command()
@journal_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(journal: Path, as_json: bool) -> None:
    """Where the cutover stands: progress, forecast, blockers, the journal head."""
    with JournalReader(journal) as reader:
        state = load_state(reader)
        behind = behind_recorded_head(reader)
    if behind:  # committed events lost (e.g. a damaged WAL): said before anything else
        click.echo(f"warning: {behind}", err=True)
    summary = status_summary(state, SystemClock().now())
    if as_json:
        click.echo(json_text(summary, indent=2))
        return
    _render_status(summary)


def _hm(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%a %H:%M") if iso else ""


def _render_status(summary: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    out = console()
    c = summary["cutover"]
    progress = summary["progress"]
    out.print(
        Text.assemble(
            styled(c["name"], "bold"),
            " — ",
            styled(c["client"]),
            ("  ", ""),
            (" REHEARSAL ", "reverse") if c["rehearsal"] else "",
        )
    )
    out.print(
        f"now {_hm(summary['now'])} ({c['timezone']})  window {_hm(c['window']['start'])}"
        f" → {_hm(c['window']['end'])}  progress {progress['finished']}/{progress['total']}"
    )
    fits = (
        ("fits the window", "green")
        if summary["fits_window"]
        else ("OVERRUNS the window", "bold red")
    )
    out.print(
        Text.assemble(
            f"planned end {_hm(summary['planned_end'])}  forecast end "
            f"{_hm(summary['forecast_end'])}  ",
            fits,
        )
    )
    ponr = summary["point_of_no_return"]
    if ponr:
        if ponr["passed_at"]:
            out.print(
                Text.assemble(
                    ("point of no return passed", "bold red"),
                    f" at {_hm(ponr['passed_at'])} ({ponr['step']})",
                )
            )
        else:
            out.print(
                Text.assemble(
                    "rollback still possible until ",
                    (_hm(ponr["rollback_possible_until"]), "bold"),
                    f" ({ponr['step']})",
                )
            )
    table = Table(box=None, pad_edge=False, header_style="bold")
    for col in ("step", "status", "owner", "planned", "actual", "delay", "blocked by"):
        table.add_column(col, overflow="fold")
    phase = None
    for s in summary["steps"]:
        if s["phase"] != phase:
            phase = s["phase"]
            table.add_row(*cells(styled(phase, "bold cyan")))
        actual = _hm(s["actual_start"])
        if s["actual_end"]:
            actual += f"–{_hm(s['actual_end'])[-5:]}"
        delay = ""
        if s["delay_s"] is not None and abs(s["delay_s"]) >= 60:
            delay = format_duration(timedelta(seconds=s["delay_s"]))
        status_text = s["status"].replace("_", " ") + (" OVERRUN" if s["overrun"] else "")
        table.add_row(
            *cells(
                f"  {s['id']}",
                styled(status_text, STATUS_STYLE[s["status"]]),
                s["owner"],
                _hm(s["planned_start"]),
                actual,
                delay,
                "; ".join(_worth_showing(s["blockers"])),
            )
        )
    out.print(table)
    head = summary["head"]
    out.print(Text.assemble("journal checkpoint ", (f"{head['seq']}:{head['hash']}", "bold")))


def _worth_showing(blockers: list[str]) -> list[str]:
    """A step waiting on others says only that; the next wave shows its real blockers."""
    waiting = [b for b in blockers if b.startswith("waits for")]
    return waiting[:1] + (["…"] if len(waiting) > 1 else []) if waiting else blockers


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--expect-head",
    default=None,
    metavar="SEQ:HASH",
    help="A checkpoint written down earlier: catches a cut-off or rewritten tail.",
)
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--signer-fingerprint",
    default=None,
    help="For a bundle: the export key's fingerprint you were given out of band.",
)
def verify(
    path: Path, expect_head: str | None, as_json: bool, signer_fingerprint: str | None
) -> None:
    """Verify a journal (hash chain, SQLite integrity) or an exported bundle (its files,
    signatures, file hashes, both chains, the checkpoints, the rebuilt reports). Exit 0 intact,
    1 naming the first problem (for a bundle also: a file missing, extra or unreadable), 2 when
    PATH is neither a journal nor a bundle."""
    from ..untrusted import LINE_LIMIT, inert

    expect = None
    if expect_head is not None:
        try:
            expect = Checkpoint.parse(expect_head)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expect-head") from None
    if path.is_dir():  # an exported bundle
        from ..report.bundle import verify_bundle

        bundle = verify_bundle(path, signer_fingerprint, expect)
        if as_json:  # json.dumps escapes every non-ASCII character: inert on a terminal
            click.echo(
                json.dumps(
                    {
                        "ok": bundle.ok,
                        "events": bundle.events,
                        "head": bundle.head,
                        "signer": bundle.signer,
                        "problem": bundle.problem,
                    }
                )
            )
        elif bundle.ok:
            click.echo(
                f"OK: bundle intact: {bundle.events} events, head {bundle.head}; signed by "
                + (
                    f"{bundle.signer}, the expected key"
                    if signer_fingerprint
                    else f"{bundle.signer} (compare it with the fingerprint you were given, "
                    "or pass --signer-fingerprint)"
                )
                + (
                    f"; contains the checkpoint {expect}, {bundle.after_expected} event(s) after it"
                    if expect
                    else ""
                )
            )
        else:
            click.echo(f"FAILED: {inert(bundle.problem, limit=LINE_LIMIT)}", err=True)
        sys.exit(0 if bundle.ok else 2 if bundle.usage else 1)
    with JournalReader(path) as reader:
        report = reader.verify(expect, against_recorded_head=True)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "events": report.count,
                    "head": str(report.head) if report.head else None,
                    "problem": report.problem,
                    "seq": report.bad_seq,
                }
            )  # ensure_ascii (the default) keeps a journal's text inert
        )
    elif report.ok:
        click.echo(
            f"OK: {report.count} events, chain intact; head {report.head}"
            + (" matches the checkpoint" if expect else "")
        )
    else:
        where = "" if report.bad_seq is None else f" at event {report.bad_seq}"
        click.echo(f"FAILED{where}: {inert(report.problem, limit=LINE_LIMIT)}", err=True)
    sys.exit(0 if report.ok else 1)


@cli.command()
@journal_option
@click.option("--after", default=0, help="Only events after this sequence number.")
@click.option("--jsonl", is_flag=True, help="One JSON object per line, with hashes.")
def events(journal: Path, after: int, jsonl: bool) -> None:
    """Print the journal's events (read-only)."""
    with JournalReader(journal) as reader:
        for event in reader.events(after=after):
            if jsonl:
                click.echo(json_text(event.as_json(), sort_keys=True))
                continue
            about = f" [{event.step}]" if event.step else ""
            detail = (
                event.payload.get("reason")
                or event.payload.get("text")
                or event.payload.get("role")
                or ""
            )
            if event.kind == "journal.created":
                detail = f"plan {event.payload['plan']['sha256'][:12]}"
            line = f"{event.seq:>6} {event.ts[:19]}Z {event.actor:<10} {event.kind:<18}{about} "
            click.echo(inert(line + str(detail), limit=LINE_LIMIT).rstrip())
