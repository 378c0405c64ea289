"""Commands that write to a journal and need the plan: init, revise, tabletop, action (step,
signoff, note and override-gate, which need only the service: request_cmds)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..clock import ManualClock, SystemClock
from ..journal import Actor, JournalReader, JournalWriter
from ..plan import load_plan
from ..runbook import Cutover, load_state
from ..runbook.autopilot import lead_of, run_tabletop
from . import cli
from .archive_cmds import archive_option, tabletop_witness
from .options import by_option, journal_option, new_journal_option
from .output import echo
from .request_cmds import done, journal_request


@cli.command()
@click.argument("plan", type=click.Path(path_type=Path))
@new_journal_option("state/<cutover id>.sqlite")
@click.option(
    "--by",
    default=None,
    envvar="CUTOVER_PERSON",
    help="Who creates it (a person id; default: the first lead of the plan).",
)
@click.option("--rehearsal", is_flag=True, help="Mark this journal as a rehearsal run.")
def init(plan: Path, journal: Path | None, by: str | None, rehearsal: bool) -> None:
    """Create a journal for PLAN (the plan's full text is stored in it)."""
    document = load_plan(plan)
    p = document.plan
    for warning in document.warnings:
        echo(str(warning), err=True)
    if by is None:
        by = next((x.id for x in p.people if "lead" in x.roles), p.people[0].id)
    elif by not in {x.id for x in p.people}:
        raise click.BadParameter(f"'{by}' is not a person in the plan", param_hint="--by")
    path = journal or Path("state") / f"{p.cutover.id}{'-rehearsal' if rehearsal else ''}.sqlite"
    writer = JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor.here(by),
        cutover_id=p.cutover.id,
        plan_keys=document.keys,
        mode="rehearsal" if rehearsal else "live",
    )
    head = writer.head()
    writer.close()
    echo(
        f"created {path} for '{p.cutover.name}' ({len(p.steps)} steps)"
        f"{' — rehearsal' if rehearsal else ''}"
    )
    echo(f"checkpoint {head}")


@cli.command()
@click.argument("plan", type=click.Path(path_type=Path))
@journal_option
@by_option
@click.option("--reason", required=True, help="Why the plan changed mid-cutover.")
def revise(plan: Path, journal: Path, by: str, reason: str) -> None:
    """Record an edited PLAN in the journal as a revision (never silently)."""
    document = load_plan(plan)
    args = {"plan_text": document.text, "plan_file": document.file, "by": by, "reason": reason}
    result = journal_request(journal, "cutover revise", "revise", args)
    if result["event"] is None:
        echo("the plan is unchanged; nothing recorded")
    else:
        done(result, f"plan revised ({document.sha256[:12]})")


@cli.command()
@click.argument("plan", type=click.Path(path_type=Path))
@new_journal_option("state/<cutover id>-tabletop-<time>.sqlite")
@click.option("--quiet", "-q", is_flag=True, help="Only the summary.")
@click.option(
    "--open",
    "open_console",
    is_flag=True,
    help="Then open the rehearsal journal in the console (read-only).",
)
@archive_option
def tabletop(
    plan: Path, journal: Path | None, quiet: bool, open_console: bool, archive: str | None
) -> None:
    """Tabletop rehearsal: walk PLAN through the real rules on a simulated clock.

    Every step is started and completed by its owner at its planned time, signed off by eligible
    distinct people, and gates that need live evidence are overridden by the lead with a reason
    that says so. The result is a complete rehearsal journal you can inspect, report on and verify.
    """
    document = load_plan(plan)
    p = document.plan
    zone = p.zone
    clock = ManualClock(p.cutover.origin)
    stamp = SystemClock().now().strftime("%Y%m%d-%H%M%S")
    path = journal or Path("state") / f"{p.cutover.id}-tabletop-{stamp}.sqlite"
    lead = lead_of(p).id
    witness = tabletop_witness(path, p, archive, clock)
    writer = JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor.here(lead),
        cutover_id=p.cutover.id,
        plan_keys=document.keys,
        mode="tabletop",
        clock=clock,
    )
    try:
        cutover = Cutover(writer, clock)
        echo(f"tabletop rehearsal of '{p.cutover.name}' on a simulated clock → {path}")
        for outcome in run_tabletop(cutover, clock):
            if witness is not None:
                witness.after_step(cutover)
            if quiet:
                continue
            signed = f"  signed {'+'.join(outcome.signers)}" if outcome.signers else ""
            gates = (
                f"  {len(outcome.gates_overridden)} gate(s) overridden (no live evidence)"
                if outcome.gates_overridden
                else ""
            )
            echo(
                f"  {outcome.started_at.astimezone(zone):%a %H:%M}–"
                f"{outcome.ended_at.astimezone(zone):%H:%M}  {outcome.step:<26} "
                f"by {outcome.by}{signed}{gates}"
            )
        if witness is not None:
            witness.finish(cutover)
        state = cutover.state
    finally:
        writer.close()
    with JournalReader(path) as reader:
        report = reader.verify()
    done, total = state.progress()
    end = state.last_at.astimezone(zone) if state.last_at else None
    echo(
        f"\n{done}/{total} steps done; simulated end {end:%a %Y-%m-%d %H:%M %Z}; "
        f"window ends {p.cutover.window.end.astimezone(zone):%a %H:%M}; "
        f"{len(state.overrides)} override(s) recorded"
    )
    echo(
        f"journal {path}: {report.count} events, chain "
        f"{'intact' if report.ok else 'BROKEN: ' + str(report.problem)}"
    )
    echo(f"checkpoint {report.head}")
    echo(f"next: cutover watch -j {path}   cutover status -j {path}   cutover verify {path}")
    if open_console:
        from ..runbook.session import WatchSession
        from ..ui.app import WatchApp

        session = WatchSession(path)
        try:
            WatchApp(session).run()
        finally:
            session.close()


@cli.command("action")
@click.argument("step_id", metavar="STEP")
@journal_option
@by_option
@click.option("--yes", is_flag=True, help="Run after showing the preview, without asking.")
@click.option("--preview", "preview_only", is_flag=True, help="Only show what it would do.")
def action_command(step_id: str, journal: Path, by: str, yes: bool, preview_only: bool) -> None:
    """Preview, then run STEP's automated action (command or Route 53) and journal the result."""
    from ..runbook.step_action import describe_result, execute, prepare

    command = "cutover action"
    journal_request(journal, command, "check_action", {"step": step_id, "by": by})
    with JournalReader(journal) as reader:
        state = load_state(reader)
    action = state.plan.step(step_id).action
    assert action is not None  # check_action refuses a step without one
    try:
        prepared = prepare(action, state)
    except Exception as exc:  # no zone, no credentials, Route 53 refusing to answer
        raise click.ClickException(
            f"cannot preview {action.kind}: {type(exc).__name__}: {exc}"
        ) from None
    if prepared.route53:
        echo(f"{action.kind}: {len(prepared.lines)} change(s)")
        echo("\n".join(f"  {line}" for line in prepared.lines))
    else:
        echo("\n".join(prepared.lines))
    if preview_only or not (yes or click.confirm("run it?", default=False)):
        echo("not run")
        return
    result = execute(prepared)
    recorded = journal_request(
        journal, command, "record_action", {"step": step_id, "by": by, "result": result}
    )
    done(recorded, f"{step_id}: {action.kind}: {describe_result(result)}")
    if result.get("exit"):
        echo(result.get("error") or result.get("output", "")[-500:], err=True)
        sys.exit(1)
