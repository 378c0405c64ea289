"""The commands a script or a second terminal sends while a cutover runs: step, signoff, note,
override-gate. With a journal service running they are one request to it, and this module
imports nothing heavy (no plan loader, no rules, no asyncio): a script's `cutover note` is
acknowledged in tens of milliseconds. With none, `service.routing` writes directly, importing the
rules then."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from . import cli, loaded_class
from .options import by_option, idem_option, journal_option
from .output import NOT_CONFIRMED, echo


def journal_request(
    journal: Path, command: str, op: str, args: dict[str, Any], idem: str | None = None
) -> dict[str, Any]:
    """Send a journal operation to the journal's service when one runs; else write it here."""
    from ..service.protocol import Request
    from ..service.routing import perform

    try:
        return perform(journal, command, Request(op, args, idem)).result
    except Exception as exc:
        mismatch = loaded_class("cutover_console.service.operations", "PlanMismatch")
        if mismatch is not None and isinstance(exc, mismatch):  # a revision of another plan
            raise click.UsageError(str(exc)) from None
        raise


def done(result: dict[str, Any], what: str) -> None:
    event = result["event"]
    if event["replayed"]:  # a retry: its key already recorded this very command
        echo(f"{what} — already recorded as event {event['seq']} ({event['hash'][:16]}); not again")
        return
    echo(f"{what} — journaled as event {event['seq']} ({event['hash'][:16]})")


@cli.group()
def step() -> None:
    """Record what happens to a step: start, done, fail, skip, reopen, rollback."""


COMMS_PREVIEW_CHARS = 20_000  # of each audience's text, as `cutover comms preview` shows it


def confirm_comms_step(journal: Path, step_id: str, yes: bool) -> bool:
    """A `kind: comms` step sends its update when it is completed: show the exact text each
    audience gets (the console's preview, from the same functions) and ask, No by default
    (`yes`: do not ask). Whether to complete it (True at once for a step that sends nothing).
    Without a terminal to ask in, refuses (exit NOT_CONFIRMED): nothing is journaled or sent."""
    args = {"step": step_id}
    found = journal_request(journal, "cutover step done", "comms_step_preview", args)["previews"]
    if found is None:
        return True
    from ..comms.preview import Preview, preview_text
    from ..secrets import REDACT

    text = preview_text([Preview(**p) for p in found], limit=COMMS_PREVIEW_CHARS)
    echo(f"Completing {step_id} sends this update:\n\n{REDACT(text)}\n")  # echo: inert
    if yes:
        return True
    if not sys.stdin.isatty():
        echo(
            f"not completed: {step_id} sends the update above when it is completed; confirm "
            "in a terminal, or pass --yes (nothing was journaled or sent)",
            err=True,
        )
        sys.exit(NOT_CONFIRMED)
    if click.confirm(f"Complete {step_id} and send this?", default=False):
        return True
    echo(f"not completed: {step_id} is unchanged and nothing was sent")
    return False


def _step_command(name: str, help_text: str, *, reason: str | None, override: bool) -> None:
    yes_option = (
        click.option(
            "--yes",
            is_flag=True,
            help="A `kind: comms` step: send its update without asking (its preview is shown).",
        )
        if name == "done"
        else (lambda f: f)
    )

    @step.command(name, help=help_text)
    @click.argument("step_id", metavar="STEP")
    @journal_option
    @by_option
    @idem_option
    @click.option("--reason", default=None, help=reason or "Why (optional).", required=False)
    @click.option(
        "--override",
        default=None,
        metavar="REASON",
        hidden=not override,
        help="Lead only: override the rules that refuse this, with a reason.",
    )
    @yes_option
    def command(
        step_id: str,
        journal: Path,
        by: str,
        idem: str | None,
        reason: str | None,
        override: str | None,
        yes: bool = False,
    ) -> None:
        args = {"step": step_id, "by": by, "reason": reason, "override": override}
        if name in ("start", "done"):
            del args["reason"]
        elif name != "rollback":
            del args["override"]
        op = {"start": "start_step", "done": "complete_step"}.get(name, f"{name}_step")
        if name == "done" and not confirm_comms_step(journal, step_id, yes):
            return
        result = journal_request(journal, f"cutover step {name}", op, args, idem)
        done(result, f"{step_id}: {result['step_status'].replace('_', ' ')}")


_step_command("start", "Start STEP (dependencies, not_before checked).", reason=None, override=True)
_step_command("done", "Complete STEP (gates and sign-offs checked).", reason=None, override=True)
_step_command(
    "fail", "Mark STEP failed (needs --reason).", reason="Why it failed (required).", override=False
)
_step_command(
    "skip", "Skip STEP (needs --reason).", reason="Why it is skipped (required).", override=False
)
_step_command(
    "reopen",
    "Re-open a finished STEP (needs --reason).",
    reason="Why it is re-opened (required).",
    override=False,
)
_step_command(
    "rollback",
    "Record that STEP was rolled back (needs --reason).",
    reason="Why it was rolled back (required).",
    override=True,
)


@cli.command()
@click.argument("step_id", metavar="STEP")
@click.option(
    "--journal",
    "-j",
    "journal",
    default=None,
    envvar="CUTOVER_JOURNAL",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The journal file (or set CUTOVER_JOURNAL); not with --remote.",
)
@by_option
@idem_option
@click.option("--role", default=None, help="Sign under this role (default: the first that fits).")
@click.option(
    "--sign-with",
    "sign_with",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="KEYFILE",
    help="Sign the sign-off with your SSH key: a private key file, or a .pub whose private key "
    "is in ssh-agent.",
)
@click.option(
    "--remote",
    default=None,
    metavar="HOST:PORT",
    help="Sign through `cutover serve` at HOST:PORT with ssh (needs --sign-with).",
)
def signoff(
    step_id: str,
    journal: Path | None,
    by: str,
    idem: str | None,
    role: str | None,
    sign_with: Path | None,
    remote: str | None,
) -> None:
    """Sign off STEP as --by (role checked; distinct people; no self-approval). With
    --sign-with, the journal service issues a statement, your key signs it, and the service
    checks the signature before it journals the sign-off."""
    if remote is not None:
        if sign_with is None:
            raise click.UsageError("--remote needs --sign-with KEYFILE")
        from .remote_signing import sign_remotely

        echo(sign_remotely(remote, step_id, by, sign_with))
        return
    if journal is None:
        raise click.UsageError("Missing option '--journal' / '-j' (or set CUTOVER_JOURNAL).")
    args: dict[str, Any] = {"step": step_id, "by": by, "role": role}
    if sign_with is not None:
        from ..signoffs.signer import SigningFailed, sign_statement

        issued = journal_request(journal, "cutover signoff", "signoff_statement", args)
        try:
            args["signature"] = sign_statement(sign_with, issued["statement"])
        except SigningFailed as exc:
            raise click.ClickException(str(exc)) from None
        args["statement"] = issued["statement"]
    result = journal_request(journal, "cutover signoff", "signoff", args, idem)
    done(
        result,
        f"{step_id}: signed off by {by} as {result['event']['role']}"
        + (f", signed with {result['event']['key']}" if result["event"].get("key") else "")
        + f" ({result['signoffs']} sign-off(s) so far)",
    )


@cli.command()
@click.argument("text")
@journal_option
@by_option
@idem_option
@click.option("--step", "step_id", default=None, help="Attach the note to a step.")
def note(text: str, journal: Path, by: str, idem: str | None, step_id: str | None) -> None:
    """Add a note (to the cutover, or to --step)."""
    result = journal_request(
        journal, "cutover note", "note", {"text": text, "by": by, "step": step_id}, idem
    )
    done(result, "note added")


@cli.command("override-gate")
@click.argument("step_id", metavar="STEP")
@click.argument("gate_id", metavar="GATE")
@journal_option
@by_option
@idem_option
@click.option("--reason", required=True, help="Why the gate is overridden (kept forever).")
def override_gate(
    step_id: str, gate_id: str, journal: Path, by: str, idem: str | None, reason: str
) -> None:
    """Lead only: treat GATE of STEP as met, with a reason, marked as an override forever."""
    args = {"step": step_id, "gate": gate_id, "by": by, "reason": reason}
    result = journal_request(journal, "cutover override-gate", "override_gate", args, idem)
    done(result, f"{step_id}: gate {gate_id} overridden")
