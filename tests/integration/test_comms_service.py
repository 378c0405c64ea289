"""Stakeholder updates through the real CLI and the journal service (issue 22): `cutover comms
test|send|status`, and a kill -9 of the service between queued and delivered."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest
from commsbed import SmtpSink, Webhook
from servers import CANARY
from support import PLANS, run_cli

from cutover_console.journal import JournalReader
from cutover_console.runbook.comms_ledger import CommsLedger
from cutover_console.service.address import ServiceAddress

pytestmark = pytest.mark.integration
PLAN = PLANS / "comms.yaml"


def ledger_of(journal: Path) -> CommsLedger:
    with JournalReader(journal) as reader:
        return CommsLedger.of(reader.events())


def init(tmp_path: Path) -> Path:
    journal = tmp_path / "j.sqlite"
    result = run_cli("init", str(PLAN), "-j", str(journal), "--by", "lena")
    assert result.returncode == 0, result.stderr
    return journal


def test_comms_test_says_which_targets_worked_and_status_shows_no_secret(tmp_path: Path) -> None:
    smtp = SmtpSink()
    try:
        env = {
            "COMMS_TEST_MAIL": smtp.url(),
            "COMMS_TEST_HOOK": f"json://127.0.0.1:1/never?token={CANARY}",
        }
        journal = init(tmp_path)
        result = run_cli("comms", "test", "-j", str(journal), "--by", "lena", env=env)
        out = result.stdout + result.stderr
        assert result.returncode == 1, out  # the webhook target does not work
        assert "client" in out and "worked: SMTP 250" in out
        assert "support" in out and "FAILED" in out
        assert len(smtp.received) == 1 and smtp.received[0].subject.startswith("[TEST]")
        status = run_cli("comms", "status", "-j", str(journal), "--json", env=env)
        data = json.loads(status.stdout)
        assert {t["status"] for m in data["messages"] for t in m["targets"]} == {
            "delivered", "abandoned"
        }  # fmt: skip
        text = run_cli("comms", "status", "-j", str(journal), env=env)
        for output in (out, status.stdout, text.stdout, text.stderr):
            assert CANARY not in output
        assert CANARY.encode() not in journal.read_bytes()
        # the report and the export: a Communications section with the exact text and its hash
        ledger = ledger_of(journal)
        client = next(m for m in ledger.messages.values() if m.audience == "client")
        for name in ("r.md", "r.html"):
            out_file = tmp_path / name
            made = run_cli("report", "--journal", str(journal), "-o", str(out_file))
            assert made.returncode == 0, made.stderr
            document = out_file.read_text()
            assert "Communications" in document and client.id in document
            assert client.rendered["html"]["sha256"] in document
            assert "SMTP 250" in document and CANARY not in document
        bundle = tmp_path / "bundle"
        made = run_cli("export", "--journal", str(journal), "-o", str(bundle),
                       "--sign-key", str(tmp_path / "key"))  # fmt: skip
        assert made.returncode == 0, made.stderr
        exported = (bundle / "report.md").read_text()
        assert "Communications" in exported and client.id in exported
        for path in bundle.iterdir():
            assert CANARY.encode() not in path.read_bytes(), path
        assert run_cli("verify", str(bundle)).returncode == 0
    finally:
        smtp.stop()


def _service_pid(journal: Path) -> int:
    return int(json.loads(ServiceAddress.of(journal).info.read_text())["pid"])


def test_kill_9_between_queued_and_delivered_sends_each_message_once(tmp_path: Path) -> None:
    """The receivers are down when the go/no-go is decided: the service journals the queued
    updates and fails its attempts. It is killed -9; the receivers come up; a new service sends
    every queued message once. Killed again and restarted, it sends nothing more."""
    smtp_port_holder = SmtpSink()
    port = smtp_port_holder.port
    smtp_port_holder.stop()  # nothing listens there now
    hook = Webhook("error")
    env = {
        "COMMS_TEST_MAIL": f"mailto://127.0.0.1:{port}?from=a@ops.test&to=b@client.test",
        "COMMS_TEST_HOOK": hook.url(),
    }
    os.environ.update(env)
    journal = init(tmp_path)
    pids: list[int] = []
    smtp: SmtpSink | None = None
    try:
        assert run_cli("service", "start", "-j", str(journal), env=env).returncode == 0
        pids.append(_service_pid(journal))
        for verb in ("start", "done"):
            assert run_cli("step", verb, "gng", "-j", str(journal), "--by", "lena").returncode == 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # both have failed at least once
            ledger = ledger_of(journal)
            if ledger.messages and all(
                t.attempts >= 1 and t.status == "failed"
                for m in ledger.messages.values()
                for t in m.targets.values()
            ):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(ledger_of(journal).messages)
        os.kill(pids[-1], signal.SIGKILL)
        time.sleep(0.3)
        smtp = SmtpSink()
        smtp.controller.stop()
        from aiosmtpd.controller import Controller

        smtp.port = port
        smtp.controller = Controller(smtp.controller.handler, hostname="127.0.0.1", port=port)
        smtp.controller.start()
        hook.mode = "ok"
        assert run_cli("service", "start", "-j", str(journal), env=env).returncode == 0
        pids.append(_service_pid(journal))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ledger = ledger_of(journal)
            if all(m.settled for m in ledger.messages.values()):
                break
            time.sleep(0.1)
        ledger = ledger_of(journal)
        ids = {m.audience: m.id for m in ledger.messages.values()}
        assert [r.message_id for r in smtp.received] == [ids["client"]]
        assert [r.message_id for r in hook.received] == [ids["support"]]
        # delivered is never sent again: kill -9 once more, restart, wait
        os.kill(pids[-1], signal.SIGKILL)
        time.sleep(0.3)
        assert run_cli("service", "start", "-j", str(journal), env=env).returncode == 0
        pids.append(_service_pid(journal))
        time.sleep(2)
        assert len(smtp.received) == 1 and len(hook.received) == 1
    finally:
        run_cli("service", "stop", "-j", str(journal))
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for name in env:
            os.environ.pop(name, None)
        if smtp is not None:
            smtp.stop()
        hook.stop()
