"""`cutover comms status|preview|send|test|ack`: stakeholder updates from the command line.

`send` and `test` queue through the journal service when one runs (its comms engine sends);
with none, this process queues, then runs the comms engine itself until those messages are
delivered or abandoned. Nothing here prints a channel's URL: only its reference and Apprise's
masked form."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from . import cli
from .options import by_option, journal_option
from .output import NOT_CONFIRMED, echo, json_out

WAIT = 120.0  # seconds `send`/`test` wait for every target to settle


def _ledger(journal: Path) -> Any:
    from ..journal import JournalReader
    from ..runbook.comms_ledger import CommsLedger

    with JournalReader(journal) as reader:
        return CommsLedger.of(reader.events())


def _inert(value: object, limit: int = 200, *, multiline: bool = False) -> str:
    """Text from a plan, a template or a server, shown: inert (a message body keeps its line
    breaks), and no secret."""
    from ..secrets import REDACT
    from ..untrusted import inert

    return REDACT(inert(value, limit=limit, multiline=multiline))


@cli.group("comms")
def comms() -> None:
    """Stakeholder updates: what was sent to whom, previews, send now, a test send."""


@comms.command("status")
@journal_option
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
def status_command(journal: Path, as_json: bool) -> None:
    """Every update and its delivery to each target; abandoned deliveries; overdue updates."""
    ledger = _ledger(journal)
    rows = []
    for m in sorted(ledger.messages.values(), key=lambda m: m.seq):
        rows.append(
            {
                "message": m.id,
                "rule": m.rule,
                "audience": m.audience,
                "queued_at": m.queued_at.isoformat(),
                "test": m.test,
                "title": (m.rendered.get("text") or {}).get("title", ""),
                "targets": [
                    {
                        "target": t.target,
                        "channel": t.channel,
                        "url": t.url,
                        "status": t.status,
                        "attempts": t.attempts,
                        "reply": t.reply,
                        "reason": t.reason,
                        "acknowledged_by": t.acknowledged_by or None,
                    }
                    for t in m.targets.values()
                ],
            }
        )
    overdue = [{**o, "at": o["at"].isoformat()} for o in ledger.overdue]
    if as_json:
        from ..secrets import REDACT

        json_out(REDACT(json.dumps({"messages": rows, "overdue": overdue}, indent=2)))
        return
    if not rows:
        echo("no update queued yet")
    for row in rows:
        test = " [test]" if row["test"] else ""
        echo(f"{_inert(row['message'])}{test}  {_inert(row['audience'])}  "
             f"{_inert(row['title'], 80)}")  # fmt: skip
        for t in row["targets"]:
            said = t["reply"] if t["status"] == "delivered" else t["reason"]
            ack = f" (acknowledged by {t['acknowledged_by']})" if t["acknowledged_by"] else ""
            echo(f"    {t['target']}  {_inert(t['channel'], 60)}  {t['status']}"
                 f" after {t['attempts']} attempt(s): {_inert(said, 120)}{ack}")  # fmt: skip
    for o in overdue:
        echo(f"overdue: {_inert(o['rule'])} to {_inert(o['audience'])}: nothing delivered "
             f"since {o['since']} (due by {o['due_at']})")  # fmt: skip


@comms.command("preview")
@journal_option
@click.option("--template", default=None, help="A template id (default: the first).")
@click.option("--audience", default=None, help="An audience id (default: every audience).")
def preview_command(journal: Path, template: str | None, audience: str | None) -> None:
    """The exact text each audience would get now, per channel format."""
    for name, fmt, rendered in _previews(journal, template, audience):
        echo(f"── {_inert(name)} ({fmt}) ──")
        echo(f"Subject: {_inert(rendered['title'])}")
        echo(_inert(rendered["body"], 20_000, multiline=True))


def _previews(
    journal: Path, template: str | None, audience: str | None
) -> list[tuple[str, str, dict[str, str]]]:
    from ..clock import SystemClock
    from ..comms.preview import PreviewError, channel_formats, previews
    from ..journal import JournalReader
    from ..runbook import load_state

    with JournalReader(journal) as reader:
        state = load_state(reader)
    comms = state.plan.comms
    if comms is None:
        raise click.UsageError("the plan has no `comms:` section")
    formats = {a.id: channel_formats(a.channels) for a in comms.audiences}
    try:
        found = previews(state, SystemClock().now(), template, audience, formats)
    except PreviewError as exc:
        raise click.UsageError(str(exc)) from None
    return [(p.audience, p.format, {"title": p.title, "body": p.body}) for p in found]


def _queue_and_wait(journal: Path, args: dict[str, Any], command: str) -> list[Any]:
    """Queue (through the service, or here), then wait for every target of the new messages."""
    from ..clock import SystemClock
    from ..journal import JournalReader, JournalWriter
    from ..runbook import Cutover
    from ..service.protocol import Request
    from ..service.routing import perform

    with JournalReader(journal) as reader:
        before = reader.head()
    after = before.seq if before else 0
    outcome = perform(journal, command, Request("comms_send", args))
    if not outcome.via_service:
        writer = JournalWriter.open(journal, command=command)
        try:
            _deliver_here(Cutover(writer, SystemClock()), after)
        finally:
            writer.close()
    deadline = time.monotonic() + WAIT
    while True:
        ledger = _ledger(journal)
        mine = [m for m in ledger.messages.values() if m.seq > after]
        if all(m.settled for m in mine) or time.monotonic() > deadline:
            return mine
        time.sleep(0.2)


def _deliver_here(cutover: Any, after: int) -> None:
    """No service: run the comms engine in this process until the new messages settle."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from ..comms.engine import CommsEngine

    journal_thread = ThreadPoolExecutor(1, thread_name_prefix="journal")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        engine = CommsEngine(
            cutover, cutover.clock, lambda w: loop.run_in_executor(journal_thread, w)
        )
        engine.schedule = False
        task = asyncio.create_task(engine.run(stop))
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            mine = [m for m in engine.ledger.messages.values() if m.seq > after]
            if mine and all(m.settled for m in mine):
                break
        stop.set()
        await task

    try:
        asyncio.run(main())
    finally:
        journal_thread.shutdown(wait=True)


def _report(messages: list[Any]) -> int:
    failed = 0
    for m in messages:
        for t in m.targets.values():
            ok = t.status == "delivered"
            failed += not ok
            said = t.reply if ok else t.reason
            echo(f"{_inert(m.audience)}  {t.target}  {_inert(t.channel, 60)}  "
                 f"{'worked' if ok else 'FAILED'}: {_inert(said, 160)}")  # fmt: skip
    return failed


@comms.command("send")
@journal_option
@by_option
@click.option("--template", default=None, help="A template id (default: the first).")
@click.option("--audience", default=None, help="An audience id (default: every audience).")
@click.option("--no-change", is_flag=True, help="Send 'no change since …' (counts as the update).")
@click.option("--yes", is_flag=True, help="Send without showing the preview and asking.")
def send_command(
    journal: Path, by: str, template: str | None, audience: str | None, no_change: bool, yes: bool
) -> None:
    """Send an update now, after a preview (the default answer is No)."""
    if not yes:
        if not no_change:
            for name, fmt, rendered in _previews(journal, template, audience):
                echo(f"── {_inert(name)} ({fmt}) ──\nSubject: {_inert(rendered['title'])}")
                echo(_inert(rendered["body"], 20_000, multiline=True))
        if not sys.stdin.isatty():  # no one to ask: refuse, as `cutover step done` does
            echo(
                "not sent: confirm in a terminal, or pass --yes (nothing was journaled or sent)",
                err=True,
            )
            sys.exit(NOT_CONFIRMED)
        if not click.confirm("Send it?", default=False):
            echo("not sent")
            return
    args = {"by": by, "template": template, "audience": audience, "no_change": no_change}
    failed = _report(_queue_and_wait(journal, args, "cutover comms send"))
    raise SystemExit(1 if failed else 0)


@comms.command("test")
@journal_option
@by_option
@click.option("--template", default=None, help="A template id (default: the first).")
def test_command(journal: Path, by: str, template: str | None) -> None:
    """Send a message marked as a test to every target, and say which worked (exit 1 if any
    failed). Do it before the weekend."""
    args = {"by": by, "template": template, "test": True}
    failed = _report(_queue_and_wait(journal, args, "cutover comms test"))
    raise SystemExit(1 if failed else 0)


@comms.command("ack")
@journal_option
@by_option
@click.argument("message")
@click.argument("target")
def ack_command(journal: Path, by: str, message: str, target: str) -> None:
    """Acknowledge an abandoned delivery (it leaves the screen)."""
    from ..service.protocol import Request
    from ..service.routing import perform

    args = {"message": message, "target": target, "by": by}
    result = perform(journal, "cutover comms ack", Request("comms_ack", args)).result
    echo(f"acknowledged — journaled as event {result['event']['seq']}")
