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
from ..runbook.fold import CutoverState
from ..runbook.summary import STATUS_STYLE
from ..untrusted import LINE_LIMIT, inert, json_text
from . import cli
from .options import journal_option
from .output import NOTES_SHOWN, cells, console, json_out, styled


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
    summary = status_summary(state, _now(state))
    if as_json:
        json_out(json_text(summary, indent=2))
        return
    _render_status(summary)


def _now(state: CutoverState) -> datetime:
    """The cutover's clock: a sped-up rehearsal world's own (as its console showed it), and a
    finished rehearsal as it ended; the real clock for everything else."""
    spec = state.world_clock
    if spec is None:
        return SystemClock().now()
    from ..clock import world_clock

    ended = all(s.status in ("done", "skipped") for s in state.steps.values())
    last = state.last_at
    now = world_clock(spec).now()
    return min(now, last) if ended and last is not None else now


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
    # ids and times are never broken mid-word: the blockers' words wrap instead
    widest = max([len(s["id"]) + 2 for s in summary["steps"]] + [len(p) for p in phases(summary)])
    owners = max([len(s["owner"]) for s in summary["steps"]] + [5])
    wide = out.width >= 120  # narrower: what blocks each step follows the table, by id
    table.add_column("step", no_wrap=True, min_width=widest)
    table.add_column("status", min_width=11)
    table.add_column("owner", no_wrap=True, min_width=owners)
    for col in ("planned", "actual", "delay"):
        table.add_column(col, no_wrap=True)
    if wide:
        table.add_column("blocked by", overflow="fold", ratio=1)
    blocked: list[tuple[str, str]] = []
    phase = None
    for s in summary["steps"]:
        if s["phase"] != phase:
            phase = s["phase"]
            table.add_row(*cells(styled(phase, "bold cyan")))
        actual = _hm(s["actual_start"])
        if s["actual_end"]:
            actual = f"{actual[-5:]}–{_hm(s['actual_end'])[-5:]}"
        delay = ""
        if s["delay_s"] is not None and abs(s["delay_s"]) >= 60:
            delay = format_duration(timedelta(seconds=s["delay_s"]))
        status_text = s["status"].replace("_", " ") + (" OVERRUN" if s["overrun"] else "")
        blockers = "; ".join(_worth_showing(s["blockers"]))
        row = [
            f"  {s['id']}",
            styled(status_text, STATUS_STYLE[s["status"]]),
            s["owner"],
            _hm(s["planned_start"]),
            actual,
            delay,
        ]
        if wide:
            row.append(blockers)
        elif blockers:
            blocked.append((s["id"], blockers))
        table.add_row(*cells(*row))
    out.print(table)
    if blocked:
        out.print(styled("blocked", "bold"))
        for step_id, why in blocked:
            out.print(Text.assemble(styled(f"  {step_id}", "bold"), styled(f" — {why}")))
    for malformed in summary["malformed"]:
        out.print(Text.assemble(styled("malformed ", "bold red"), styled(malformed)))
    head = summary["head"]
    out.print(Text.assemble("journal checkpoint ", (f"{head['seq']}:{head['hash']}", "bold")))
    witness = summary.get("archive")
    if witness:
        out.print(
            Text.assemble(
                styled(f"witness {witness['location']}: latest published checkpoint "),
                styled(witness["latest_checkpoint"] or "none yet", "bold"),
                styled(f" at {witness['published_at']}" if witness["published_at"] else ""),
            )
        )
        if witness["fault"]:
            out.print(
                Text.assemble(
                    styled(f"witness FAULT {witness['fault']}", "bold red"),
                    styled(f" since {_hm(witness['fault_since'])}: {witness['fault_detail']}"),
                )
            )


def phases(summary: dict[str, Any]) -> list[str]:
    return [s["phase"] for s in summary["steps"]]


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
@click.option(
    "--witness",
    default=None,
    metavar="s3://BUCKET/PREFIX|DIR",
    help="Check a bundle, or a journal itself, against every checkpoint published to this "
    "witness (or a downloaded copy of its prefix): catches a rewritten, cut or extended history "
    "re-signed with the real key.",
)
def verify(
    path: Path,
    expect_head: str | None,
    as_json: bool,
    signer_fingerprint: str | None,
    witness: str | None,
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
        witnessed = None
        if bundle.ok and witness is not None:
            from ..archive.witness import verify_witness

            witnessed = verify_witness(path, witness, bundle.signer)
            bundle.ok, bundle.problem = witnessed.ok, witnessed.problem
        if as_json:  # json.dumps escapes every non-ASCII character: inert on a terminal
            json_out(
                json.dumps(
                    {
                        "ok": bundle.ok,
                        "events": bundle.events,
                        "head": bundle.head,
                        "signer": bundle.signer,
                        "problem": bundle.problem,
                        **({"witness": _witness_json(witnessed)} if witnessed else {}),
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
            if witnessed is not None:
                _echo_witness(witness or "", witnessed)
        else:
            where = f"witness {inert(witness)}: " if witnessed is not None else ""
            click.echo(f"FAILED: {where}{inert(bundle.problem, limit=LINE_LIMIT)}", err=True)
        sys.exit(0 if bundle.ok else 2 if bundle.usage else 1)
    signed = 0
    with JournalReader(path) as reader:
        report = reader.verify(expect, against_recorded_head=True)
        if report.ok:  # each signed sign-off, against the plan in force at its event
            from ..signoffs.verdict import KINDS, check_journal

            found, signoff_problem = check_journal(reader.events_of(KINDS))
            signed = len(found)
            if signoff_problem is not None:
                report.problem = f"signed sign-off at {signoff_problem}"
    witnessed = None
    if report.ok and witness is not None:
        from ..archive.witness import verify_journal_witness

        witnessed = verify_journal_witness(path, witness)
    ok = report.ok and (witnessed is None or witnessed.ok)
    problem = report.problem if witnessed is None or witnessed.ok else witnessed.problem
    if witnessed is not None and not witnessed.ok and not as_json:
        click.echo(
            f"FAILED: witness {inert(witness)}: {inert(witnessed.problem, limit=LINE_LIMIT)}",
            err=True,
        )
        sys.exit(1)
    if as_json:
        json_out(
            json.dumps(
                {
                    "ok": ok,
                    "events": report.count,
                    "head": str(report.head) if report.head else None,
                    "problem": problem,
                    "seq": report.bad_seq,
                    "signed_signoffs": signed,
                    **({"witness": _witness_json(witnessed)} if witnessed else {}),
                }
            )  # ensure_ascii (the default) keeps a journal's text inert
        )
    elif report.ok:
        click.echo(
            f"OK: {report.count} events, chain intact; head {report.head}"
            + (" matches the checkpoint" if expect else "")
            + (f"; {signed} signed sign-off(s), each by a key the plan lists" if signed else "")
        )
        if witnessed is not None:
            _echo_witness(witness or "", witnessed, what="the journal")
    else:
        where = "" if report.bad_seq is None else f" at event {report.bad_seq}"
        click.echo(f"FAILED{where}: {inert(report.problem, limit=LINE_LIMIT)}", err=True)
    sys.exit(0 if ok else 1)


def _witness_json(report: Any) -> dict[str, Any]:
    latest = report.latest
    return {
        "ok": report.ok,
        "checked": report.checked,
        "latest": f"{latest.seq}:{latest.hash}" if latest else None,
        "latest_at": latest.at if latest else None,
        "archived_to": report.archived_to,
        "unwitnessed": report.unwitnessed,
        "problem": report.problem,
    }


def _echo_witness(where: str, report: Any, what: str = "") -> None:
    latest = report.latest
    extends = what or "the bundle"
    sources = "" if what else " (journal.sqlite and events.jsonl)"
    click.echo(
        inert(
            f"OK: witness {where}: {report.checked} published checkpoint(s) checked, the latest "
            f"{latest.seq}:{latest.hash} published at {latest.at}; {extends} extends every "
            f"one{sources}, and the {report.archived_to} archived event(s) are "
            f"{'its' if what else 'the bundle' + chr(39) + 's'}"
            + (
                f"; {report.unwitnessed} event(s) after the latest checkpoint are not witnessed"
                if report.unwitnessed
                else ""
            ),
            limit=LINE_LIMIT,
        )
    )
    for note in report.notes[:NOTES_SHOWN]:
        click.echo(f"note: {inert(note, limit=LINE_LIMIT)}", err=True)
    if len(report.notes) > NOTES_SHOWN:
        click.echo(f"note: … and {len(report.notes) - NOTES_SHOWN:,} more like these", err=True)


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
