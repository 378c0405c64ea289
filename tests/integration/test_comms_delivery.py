"""Stakeholder updates delivered to real servers on loopback (issue 22): an SMTP server
(aiosmtpd) that accepts, rejects, fails for a while or never answers; a webhook that answers 200,
500, slowly or never. The comms engine runs as it does in the journal service, with its journal
writes on a journal thread of their own."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from commsbed import SilentServer, SmtpSink, Webhook, drive
from servers import CANARY
from support import PLANS

from cutover_console.clock import SystemClock
from cutover_console.journal import JournalReader
from cutover_console.plan import load_plan
from cutover_console.runbook import Cutover
from cutover_console.runbook.comms_ledger import CommsLedger
from cutover_console.service.lead import create_journal

pytestmark = pytest.mark.integration
PLAN = PLANS / "comms.yaml"


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], None]]:
    def set_urls(mail: str, hook: str) -> None:
        monkeypatch.setenv("COMMS_TEST_MAIL", mail)
        monkeypatch.setenv("COMMS_TEST_HOOK", hook)

    yield set_urls


def new_cutover(tmp_path: Path) -> Cutover:
    journal = tmp_path / "j.sqlite"
    writer = create_journal(journal, load_plan(PLAN))
    return Cutover(writer, SystemClock())


def ledger_of(journal: Path) -> CommsLedger:
    with JournalReader(journal) as reader:
        return CommsLedger.of(reader.events())


def settled(ledger: CommsLedger) -> bool:
    return bool(ledger.messages) and all(m.settled for m in ledger.messages.values())


def kinds(journal: Path) -> list[tuple[int, str, str, dict[str, Any]]]:
    with JournalReader(journal) as reader:
        return [(e.seq, e.ts, e.kind, e.payload) for e in reader.events()]


def test_a_decision_queues_its_updates_in_its_own_transaction_and_each_target_gets_them(
    tmp_path: Path, channels: Callable[[str, str], None]
) -> None:
    smtp, hook = SmtpSink(), Webhook()
    try:
        channels(smtp.url(), hook.url())
        cutover = new_cutover(tmp_path)
        cutover.start("gng", "lena")
        decision = cutover.complete("gng", "lena")
        rows = kinds(cutover.writer.path)
        queued = [r for r in rows if r[2] == "comms.queued"]
        # the outbox: both updates follow the decision, same timestamp, same commit
        assert [r[0] for r in queued] == [decision.seq + 1, decision.seq + 2]
        assert {r[1] for r in queued} == {decision.ts}
        drive(cutover, settled)
        ledger = ledger_of(cutover.writer.path)
        targets = [t for m in ledger.messages.values() for t in m.targets.values()]
        assert [t.status for t in targets] == ["delivered", "delivered"]
        mail = next(t for m in ledger.messages.values() if m.audience == "client"
                    for t in m.targets.values())  # fmt: skip
        assert mail.reply.startswith("SMTP 250 2.0.0 queued as C0FFEE")
        web = next(t for m in ledger.messages.values() if m.audience == "support"
                   for t in m.targets.values())  # fmt: skip
        assert web.reply == "HTTP 200 OK"
        ids = {m.audience: m.id for m in ledger.messages.values()}
        assert [r.message_id for r in smtp.received] == [ids["client"]]
        assert [r.message_id for r in hook.received] == [ids["support"]]
        assert "Go/no-go decided: GO" in smtp.received[0].subject
        assert "Done 1/3" in hook.received[0].body
        # the journal keeps the masked URL, never the reference's value
        attempt = next(r for r in kinds(cutover.writer.path) if r[2] == "comms.attempt")
        assert attempt[3]["url"].startswith(("mailto://", "json://"))
        cutover.writer.close()
    finally:
        smtp.stop()
        hook.stop()


def test_550_is_abandoned_after_the_retries_and_the_webhook_still_delivers(
    tmp_path: Path, channels: Callable[[str, str], None]
) -> None:
    smtp, hook = SmtpSink("reject"), Webhook()
    try:
        channels(smtp.url(), hook.url())
        cutover = new_cutover(tmp_path)
        cutover.start("gng", "lena")
        cutover.complete("gng", "lena")
        drive(cutover, settled)
        rows = kinds(cutover.writer.path)
        failed = [r[3] for r in rows if r[2] == "comms.failed"]
        assert [f["attempt"] for f in failed] == [1, 2, 3]  # retries: 2
        assert [f.get("retry_in_s") for f in failed] == [1.0, 2.0, None]  # backoff doubles
        assert all("failed" in f["reason"] for f in failed)
        abandoned = [r[3] for r in rows if r[2] == "comms.abandoned"]
        assert len(abandoned) == 1 and abandoned[0]["attempts"] == 3
        ledger = ledger_of(cutover.writer.path)
        assert len(ledger.abandoned()) == 1
        assert len(hook.received) == 1 and not smtp.received
        cutover.writer.close()
    finally:
        smtp.stop()
        hook.stop()


def test_421_then_success_is_delivered_on_the_retry(
    tmp_path: Path, channels: Callable[[str, str], None]
) -> None:
    smtp, hook = SmtpSink("flaky", failures=1), Webhook()
    try:
        channels(smtp.url(), hook.url())
        cutover = new_cutover(tmp_path)
        cutover.start("gng", "lena")
        cutover.complete("gng", "lena")
        drive(cutover, settled)
        rows = kinds(cutover.writer.path)
        failed = [r[3] for r in rows if r[2] == "comms.failed"]
        assert len(failed) == 1 and failed[0]["attempt"] == 1
        delivered = [r[3] for r in rows if r[2] == "comms.delivered"]
        assert sorted(d["attempt"] for d in delivered) == [1, 2]
        assert len(smtp.received) == 1
        cutover.writer.close()
    finally:
        smtp.stop()
        hook.stop()


def test_a_server_that_never_answers_delays_no_other_target(
    tmp_path: Path, channels: Callable[[str, str], None]
) -> None:
    silent, hook = SilentServer(), Webhook()
    try:
        channels(f"mailto://127.0.0.1:{silent.port}?from=a@ops.test&to=b@client.test", hook.url())
        cutover = new_cutover(tmp_path)
        cutover.start("gng", "lena")
        cutover.complete("gng", "lena")

        def web_delivered(ledger: CommsLedger) -> bool:
            return any(t.status == "delivered" for m in ledger.messages.values()
                       for t in m.targets.values())  # fmt: skip

        took = drive(cutover, web_delivered)
        assert took < 3, took  # the timeout of the silent one is 3s
        drive(cutover, settled, timeout=60)
        rows = kinds(cutover.writer.path)
        reasons = [r[3]["reason"] for r in rows if r[2] == "comms.failed"]
        assert reasons and all("3s" in r or "timed out" in r.lower() for r in reasons), reasons
        cutover.writer.close()
    finally:
        silent.stop()
        hook.stop()


@pytest.mark.parametrize(("mode", "expect"), [("error", "abandoned"), ("slow", "delivered"),
                                              ("hang", "abandoned")])  # fmt: skip
def test_webhook_500_slow_and_timeout(
    tmp_path: Path, channels: Callable[[str, str], None], mode: str, expect: str
) -> None:
    smtp, hook = SmtpSink(), Webhook(mode, delay=1.5)
    try:
        channels(smtp.url(), hook.url())
        cutover = new_cutover(tmp_path)
        cutover.start("gng", "lena")
        cutover.complete("gng", "lena")
        drive(cutover, settled, timeout=60)
        ledger = ledger_of(cutover.writer.path)
        web = next(t for m in ledger.messages.values() if m.audience == "support"
                   for t in m.targets.values())  # fmt: skip
        assert web.status == expect
        if mode == "error":
            assert "error=500" in web.reason
        if mode == "hang":
            assert "3s" in web.reason or "timed out" in web.reason.lower()
        cutover.writer.close()
    finally:
        smtp.stop()
        hook.stop()


def test_a_secret_in_a_channel_url_reaches_no_journal_row(
    tmp_path: Path, channels: Callable[[str, str], None]
) -> None:
    hook = Webhook()
    try:
        channels(f"mailto://ops:{CANARY}@127.0.0.1:1?from=a@ops.test&to=b@c.test",
                 f"json://user:{CANARY}@127.0.0.1:{hook.port}/hook?token={CANARY}")  # fmt: skip
        cutover = new_cutover(tmp_path)
        cutover.start("gng", "lena")
        cutover.complete("gng", "lena")
        drive(cutover, settled, timeout=60)
        raw = cutover.writer.path.read_bytes() + b"".join(
            p.read_bytes() for p in tmp_path.iterdir() if p.is_file()
        )
        assert CANARY.encode() not in raw
        assert len(hook.received) == 1  # it was used
        cutover.writer.close()
    finally:
        hook.stop()
        os.environ.pop("COMMS_TEST_MAIL", None)


def test_a_late_cadence_update_is_journaled_overdue_once_and_no_change_counts(
    tmp_path: Path, channels: Callable[[str, str], None]
) -> None:
    """An hourly update to a dead webhook: nothing is delivered, so once the hour and its grace
    have passed (the window opened long ago), comms.overdue is journaled, and only once. A
    delivered 'no change since' update then counts as the update."""
    hook = Webhook("error")
    try:
        channels("json://127.0.0.1:1/none", hook.url())
        text = PLAN.read_text().replace(
            "  updates:\n",
            "  updates:\n    - {id: hourly, every: 1h, grace: 5m, audiences: [support], "
            "template: status}\n",
        )
        plan = tmp_path / "plan.yaml"
        plan.write_text(text)
        writer = create_journal(tmp_path / "j.sqlite", load_plan(plan))
        cutover = Cutover(writer, SystemClock())
        drive(cutover, lambda ledger: bool(ledger.overdue), timeout=20)
        drive(cutover, lambda _ledger: time.sleep(0.5) is None)  # another engine, 0.5 s more
        rows = kinds(writer.path)
        overdue = [r[3] for r in rows if r[2] == "comms.overdue"]
        assert len(overdue) == 1 and overdue[0]["rule"] == "hourly"
        queued = [r[3] for r in rows if r[2] == "comms.queued"]
        assert queued and queued[0]["rule"] == "hourly"  # the schedule queued the first one
        hook.mode = "ok"
        from cutover_console.comms.requests import queue_manual

        queue_manual(cutover, "lena", audience="support", no_change=True)
        drive(cutover, lambda ledger: ledger.last_delivered_at("support") is not None)
        ledger = ledger_of(writer.path)
        assert any(m.no_change_since for m in ledger.messages.values())
        writer.close()
    finally:
        hook.stop()


def test_hostile_step_titles_reach_email_and_webhook_inert(
    tmp_path: Path, channels: Callable[[str, str], None]
) -> None:
    """The corpus, CR/LF and a header line in the go/no-go's title (it flows into the trigger and
    the Subject): no header is injected, HTML email escapes it, escape sequences arrive shown."""
    smtp, hook = SmtpSink(), Webhook()
    try:
        channels(smtp.url(), hook.url())
        hostile = "GNG\\r\\nBcc: victim@evil.test\\nX-Injected: yes <script>alert(1)</script>"
        hostile += " \\e]0;PWNED\\a @channel <!everyone>"
        text = PLAN.read_text().replace("title: Go/no-go,", f'title: "{hostile}",')
        plan = tmp_path / "plan.yaml"
        plan.write_text(text)
        cutover = Cutover(create_journal(tmp_path / "j.sqlite", load_plan(plan)), SystemClock())
        cutover.start("gng", "lena")
        cutover.complete("gng", "lena")
        drive(cutover, settled)
        mail = smtp.received[0]
        assert "Bcc" not in mail.headers and "X-Injected" not in mail.headers
        assert "\r" not in mail.subject and "\n" not in mail.subject
        assert "GO (GNG Bcc: victim@evil.test X-Injected: yes" in mail.subject  # one line
        assert "&lt;script&gt;" in mail.html and "<script>" not in mail.html
        assert "\x1b" not in mail.html + mail.subject and "␛]0;PWNED␇" in mail.html
        web = hook.received[0]
        assert "\x1b" not in web.body + web.subject and "\n" not in web.subject
        assert "␛]0;PWNED␇" in web.body
        cutover.writer.close()
    finally:
        smtp.stop()
        hook.stop()


def test_a_daily_update_goes_out_once_a_day(
    tmp_path: Path, channels: Callable[[str, str], None]
) -> None:
    """`daily: "00:00"` (the plan's zone is UTC): today's update is queued and delivered once,
    and a second engine run (a restarted service) does not queue it again."""
    hook = Webhook()
    try:
        channels("json://127.0.0.1:1/none", hook.url())
        text = PLAN.read_text().replace(
            "  updates:\n",
            '  updates:\n    - {id: support-day, daily: "00:00", audiences: [support], '
            "template: status}\n",
        )
        plan = tmp_path / "plan.yaml"
        plan.write_text(text)
        writer = create_journal(tmp_path / "j.sqlite", load_plan(plan))
        cutover = Cutover(writer, SystemClock())
        drive(cutover, lambda ledger: ledger.last_delivered_at("support") is not None)
        drive(cutover, lambda _ledger: time.sleep(1.0) is None)
        rows = [r[3] for r in kinds(writer.path) if r[2] == "comms.queued"]
        assert len(rows) == 1 and rows[0]["rule"] == "support-day"
        assert rows[0]["trigger"]["day"] == SystemClock().now().date().isoformat()
        assert [r.message_id for r in hook.received] == [rows[0]["message"]]
        writer.close()
    finally:
        hook.stop()


def test_an_attempt_without_outcome_is_sent_again_with_the_same_id(
    tmp_path: Path, channels: Callable[[str, str], None]
) -> None:
    """The documented duplicate window: a service died after journaling comms.attempt (and
    perhaps after the server accepted) but before its outcome. The next engine sends that target
    again, with the same X-Cutover-Message id for the receiver to drop; targets that were
    delivered are not sent again."""
    from cutover_console.comms.engine import render_payload
    from cutover_console.journal import events as ev

    smtp, hook = SmtpSink(), Webhook()
    try:
        channels(smtp.url(), hook.url())
        cutover = new_cutover(tmp_path)
        cutover.start("gng", "lena")
        cutover.complete("gng", "lena")
        ledger = ledger_of(cutover.writer.path)
        mail = next(m for m in ledger.messages.values() if m.audience == "client")
        web = next(m for m in ledger.messages.values() if m.audience == "support")
        for m in (mail, web):
            cutover.record_comms(ev.COMMS_RENDERED, render_payload(cutover, cutover.now, m))
        (mail_target,) = mail.targets
        (web_target,) = web.targets
        # as the killed service left it: mail in doubt, the webhook delivered
        doubt = {"message": mail.id, "target": mail_target, "attempt": 1, "format": "html"}
        cutover.record_comms(ev.COMMS_ATTEMPT, doubt)
        done = {"message": web.id, "target": web_target, "attempt": 1, "reply": "HTTP 200 OK"}
        cutover.record_comms(ev.COMMS_DELIVERED, done)
        drive(cutover, settled)
        attempts = [r[3]["attempt"] for r in kinds(cutover.writer.path)
                    if r[2] == "comms.attempt" and r[3]["message"] == mail.id]  # fmt: skip
        assert attempts == [1, 2]
        assert [r.message_id for r in smtp.received] == [mail.id]
        assert hook.received == []  # delivered before the "crash": never sent again
        cutover.writer.close()
    finally:
        smtp.stop()
        hook.stop()


def test_smtp_sends_load_the_ca_certificates_once_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apprise builds a default TLS context (the system's CA certificates, ~70 ms of CPU) for
    every SMTP connection, TLS or not. A plain SMTP target now loads none; TLS targets that
    verify share one, which Apprise never weakens (a target with verify=no gets its own)."""
    import ssl

    from cutover_console.comms import delivery
    from cutover_console.comms.render import Rendered

    made: list[ssl.SSLContext] = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    monkeypatch.setattr(delivery, "_VERIFYING", [])
    smtp = SmtpSink()
    try:
        text = Rendered("Subject", "Body")
        for i in range(3):
            sent = delivery.send([smtp.url()], text, "text", f"m{i}", 5.0)
            assert sent.ok and sent.reply.startswith("SMTP 250"), sent
        assert len(smtp.received) == 3
        assert made == []  # plain SMTP: no certificate loaded
        tls = smtp.url().replace("mailto://", "mailtos://") + "&mode=starttls"
        for i in range(2):  # the sink offers no STARTTLS: refused, after the context was made
            assert not delivery.send([tls], text, "text", f"t{i}", 5.0).ok
        assert len(made) == 1  # one verifying context, shared
        assert not delivery.send([tls + "&verify=no"], text, "text", "n", 5.0).ok
        assert len(made) == 2  # verify=no: a context of its own, which Apprise weakens
        assert made[0].verify_mode == ssl.CERT_REQUIRED and made[0].check_hostname
        assert made[1].verify_mode == ssl.CERT_NONE
    finally:
        smtp.stop()
