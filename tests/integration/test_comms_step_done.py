"""`cutover step done` on a `kind: comms` step (issue 22): the step sends its update when it is
completed, so the CLI first shows the exact text each audience gets (the console's preview) and
asks, No by default; `--yes` is for scripts; with no terminal to ask in and no `--yes` it
refuses, and nothing is journaled or sent. Through the real binary, on a pseudo-terminal and
through the journal service, with the update delivered to a real SMTP server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from commsbed import SmtpSink
from servers import CANARY
from support import PLANS, run_cli
from terminal import on_pty

from cutover_console.clock import SystemClock
from cutover_console.journal import JournalReader
from cutover_console.plan import load_plan
from cutover_console.runbook import Cutover
from cutover_console.service.lead import create_journal

pytestmark = pytest.mark.integration
PLAN = PLANS / "comms.yaml"
# escape sequences (a window title, a screen clear), markup and a chat mention in the title of
# the comms step (it flows into the update's subject and body, and so into the preview) and in
# the audience's name (the preview's heading for it)
HOSTILE = r"\e]0;PWNED\a\e[2J[bold]big[/bold] <b>x</b> @channel"


def ready_to_tell(tmp_path: Path, hostile: str = "") -> Path:
    """A journal whose comms step `tell` is running (go/no-go decided, the switch done)."""
    plan = tmp_path / "plan.yaml"
    text = PLAN.read_text().replace("title: Tell the client", f'title: "Tell the client{hostile}"')
    plan.write_text(text.replace("name: Client managers", f'name: "Client managers{hostile}"'))
    journal = tmp_path / "j.sqlite"
    cutover = Cutover(create_journal(journal, load_plan(plan)), SystemClock())
    for step in ("gng", "switch"):
        cutover.start(step, "lena")
        cutover.complete(step, "lena")
    cutover.start("tell", "lena")
    cutover.writer.close()
    return journal


def journaled(journal: Path) -> tuple[str, int]:
    """The status of `tell` and how many updates were queued for its completion."""
    with JournalReader(journal) as reader:
        events = list(reader.events())
    done = any(e.kind == "step.completed" and e.step == "tell" for e in events)
    queued = [e for e in events if e.kind == "comms.queued" and e.payload["rule"] == "step-tell"]
    return ("done" if done else "in_progress"), len(queued)


def done_on_a_terminal(journal: Path, answer: bytes) -> str:
    """`cutover step done tell` on a pseudo-terminal, `answer` typed once it asks (exit 0)."""
    args = ("step", "done", "tell", "-j", str(journal), "--by", "lena")
    return on_pty(*args, typed=("send this? [y/N]", answer), check=True)


def test_step_done_on_a_comms_step_previews_then_asks_no_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = ready_to_tell(tmp_path, f" {HOSTILE}")
    # the password in the channel URL is the canary: no output may show it
    mail = f"mailtos://lena:{CANARY}@127.0.0.1:1?from=a@ops.test&to=b@c.test"
    monkeypatch.setenv("COMMS_TEST_MAIL", mail)
    monkeypatch.setenv("COMMS_TEST_HOOK", "json://127.0.0.1:1/hook")
    out = done_on_a_terminal(journal, b"\r")  # Enter: the default, No
    assert "Complete tell and send this? [y/N]" in out
    assert "Completing tell sends this update:" in out
    assert "── Client managers " in out and " (html) ──" in out
    assert "Subject: Comms test cutover: Tell the client" in out  # the step's own trigger
    assert "Done 2/3; running: Tell the client" in out
    assert "not completed: tell is unchanged and nothing was sent" in out
    assert journaled(journal) == ("in_progress", 0)
    # the hostile title is shown, inert: no escape sequence or bell reached the terminal
    assert "\x1b" not in out and "\x07" not in out, out
    assert "PWNED" in out and "@channel" in out
    assert CANARY not in out

    out = done_on_a_terminal(journal, b"y\r")
    assert "tell: done — journaled as event" in out, out
    assert journaled(journal) == ("done", 1)
    assert "\x1b" not in out and CANARY not in out


def test_step_done_without_a_terminal_refuses_unless_yes(tmp_path: Path) -> None:
    """Through the journal service: a script without --yes is refused (exit 2) with the preview
    shown and nothing lost; with --yes the step is done and its update reaches the SMTP server,
    with the subject the preview showed."""
    smtp = SmtpSink()
    env = {"COMMS_TEST_MAIL": smtp.url(), "COMMS_TEST_HOOK": "json://127.0.0.1:1/hook"}
    journal = ready_to_tell(tmp_path)
    try:
        assert run_cli("service", "start", "-j", str(journal), env=env).returncode == 0
        args = [sys.executable, "-m", "cutover_console", "step", "done", "tell", "-j",
                str(journal), "--by", "lena"]  # fmt: skip
        refused = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            env={**os.environ, **env}, timeout=60,
        )  # fmt: skip
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "Subject: Comms test cutover: Tell the client" in refused.stdout
        assert "pass --yes (nothing was journaled or sent)" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert journaled(journal) == ("in_progress", 0)

        sent = subprocess.run(
            [*args, "--yes"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
            env={**os.environ, **env}, timeout=60,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "Subject: Comms test cutover: Tell the client" in sent.stdout
        assert "tell: done — journaled as event" in sent.stdout
        assert journaled(journal) == ("done", 1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            mine = [r for r in smtp.received if ".step-tell." in r.message_id]
            if mine:
                break
            time.sleep(0.1)
        assert [r.subject for r in mine] == ["Comms test cutover: Tell the client"]
    finally:
        run_cli("service", "stop", "-j", str(journal))
        smtp.stop()


def test_comms_send_without_a_terminal_refuses_unless_yes_and_preview_keeps_lines(
    tmp_path: Path,
) -> None:
    """`cutover comms send` from a script with no --yes: the preview, then a sentence and exit 2
    (as `step done`), nothing queued; Click's bare 'Aborted!' and exit 1 before. `comms
    preview` prints each body with its line breaks (they were shown as ␊), still inert."""
    journal = ready_to_tell(tmp_path, HOSTILE)
    env = {**os.environ, "COMMS_TEST_MAIL": "mailto://127.0.0.1:1", "COMMS_TEST_HOOK": CANARY}
    base = [sys.executable, "-m", "cutover_console", "comms"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*base, *args, "-j", str(journal)], stdin=subprocess.DEVNULL, capture_output=True,
            text=True, env=env, timeout=60,
        )  # fmt: skip

    def queued() -> int:
        with JournalReader(journal) as reader:
            return sum(1 for e in reader.events() if e.kind == "comms.queued")

    before = queued()  # the go/no-go's update
    refused = run("send", "--by", "lena")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "pass --yes (nothing was journaled or sent)" in refused.stderr
    assert "Aborted" not in refused.stdout + refused.stderr
    assert queued() == before

    shown = run("preview")
    assert shown.returncode == 0, shown.stderr
    assert "␊" not in shown.stdout
    assert any(line.startswith("Step: ") for line in shown.stdout.splitlines())
    for out in (refused.stdout + refused.stderr, shown.stdout):
        assert "\x1b" not in out and "\x07" not in out  # the hostile title, inert
        assert CANARY not in out
