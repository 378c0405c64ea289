"""The rehearsal world and `cutover demo`, end to end: the real world on loopback (moto's Route 53,
the DNS servers, the upload services, the shops), the real engines, the real CLI.

The world binds fixed loopback addresses (the demo plan names them), so these tests run one world
at a time, in this order."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import dns.message
import dns.query
import pytest
from support import ROOT, run_cli

from cutover_console.journal import JournalReader
from cutover_console.plan import load_plan
from cutover_console.rehearsal import world as w
from cutover_console.rehearsal.demo import demo_plan_path, open_session, setup
from cutover_console.rehearsal.world import World, WorldError, WorldOptions
from cutover_console.runbook.session import WatchSession
from cutover_console.ui.app import LeadApp, WatchApp
from cutover_console.ui.views import DnsPane, FlowsPane

pytestmark = pytest.mark.integration


def test_the_demo_plan_names_the_world_it_runs_on() -> None:
    plan = load_plan(ROOT / "checklists" / "demo.yaml").plan
    assert (ROOT / "checklists" / "demo.yaml").resolve() == demo_plan_path().resolve()
    assert plan.dns is not None and plan.dns.zone == w.ZONE
    by_name = {r.name: (r.address, r.port) for r in plan.dns.resolvers or []}
    assert by_name == {b.name: (b.address, w.DNS_PORT) for b in w.RESOLVERS}
    assert [(a.address, a.port) for a in plan.dns.authorities or []] == [w.AUTHORITY]
    for record in plan.dns.records:
        assert record.old == [w.OLD_SERVER] and record.new == [w.NEW_SERVER]
    endpoints = {(s.action.model_extra or {}).get("endpoint_url") for s in plan.steps if s.action}
    assert endpoints == {f"http://{w.ROUTE53[0]}:{w.ROUTE53[1]}"}


def _a(address: str, name: str) -> tuple[str, int]:
    response = dns.query.udp(dns.message.make_query(name, "A"), address, port=w.DNS_PORT, timeout=2)
    rrset = response.answer[-1]
    return rrset[0].to_text(), rrset.ttl


def test_world_serves_route53_through_its_resolvers_and_shops_upload(tmp_path: Path) -> None:
    from cutover_console.clock import ScaledClock

    plan = load_plan(demo_plan_path()).plan
    clock = ScaledClock(plan.cutover.window.start, 60)
    world = World(tmp_path, clock, WorldOptions(shops=40, stragglers=2))
    world.start()
    try:
        with pytest.raises(WorldError, match="in use"):  # a second world is refused, clearly
            World(tmp_path / "other", clock, WorldOptions(shops=1)).start(timeout=20)
        upload = f"upload.{w.ZONE}"
        assert _a(w.AUTHORITY[0], upload) == (w.OLD_SERVER, w.OLD_TTL)
        assert _a("127.79.0.13", upload)[1] <= 30  # capped
        # the switch is a real boto3 change against moto; the authority follows Route 53
        client = world.route53.client()
        client.change_resource_record_sets(
            HostedZoneId=world.route53.zone_id,
            ChangeBatch={
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": upload,
                            "Type": "A",
                            "TTL": 60,
                            "ResourceRecords": [{"Value": w.NEW_SERVER}],
                        },
                    }
                ]
            },
        )
        deadline = time.monotonic() + 5
        while _a(w.AUTHORITY[0], upload)[0] != w.NEW_SERVER:
            assert time.monotonic() < deadline, "the authority never picked up the change"
            time.sleep(0.1)
        time.sleep(1)  # 60 world seconds: the capped resolver has flipped
        assert _a("127.79.0.13", upload)[0] == w.NEW_SERVER
        assert _a("127.79.0.14", upload)[0] == w.OLD_SERVER  # sticky keeps it 20 minutes
        with pytest.raises(dns.exception.Timeout):
            _a("127.79.0.15", upload)  # dead
        time.sleep(4)
        summary = world.summary()
        assert summary["uploads_old"] > 0 and summary["uploads_new"] > 0
        assert summary["upload_errors"] == 0 and summary["sync_runs"] >= 2
    finally:
        world.stop()
    old = sqlite3.connect(tmp_path / "old.db")
    new = sqlite3.connect(tmp_path / "new.db")
    sites = {r[0] for r in old.execute("SELECT site FROM uploads")}
    assert sites and all(s.startswith("shop-") for s in sites)
    copied = new.execute("SELECT COUNT(*) FROM uploads WHERE old_id IS NOT NULL").fetchone()[0]
    assert 0 < copied <= old.execute("SELECT COUNT(*) FROM uploads").fetchone()[0]
    assert "POST /upload 201" in (tmp_path / "logs" / "old-app.log").read_text()
    assert "sync old->new copied" in (tmp_path / "logs" / "sync.log").read_text()


def test_headless_demo_completes_then_reports_exports_and_verifies(tmp_path: Path) -> None:
    journal = tmp_path / "demo.sqlite"
    started = time.monotonic()
    done = run_cli("demo", "--headless", "--speed", "120", "--journal", str(journal), cwd=tmp_path)
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr + done.stdout  # nothing leaks onto the terminal
    out = done.stdout
    assert "DNS upload: 100 % new (4/4 healthy resolvers)" in out  # the running commentary
    assert "stragglers still on the old side: 0" in out
    for check in (
        "every step done",
        "DNS 100 % new",
        "stragglers drained",
        "reconciliation matched",
        "every checkpoint published",  # the witness: the world's S3 with Object Lock
        "a restore reproduces the same head",
    ):
        assert f"ok   {check}" in out
    assert "ran route53.lower_ttl for lower-ttl: INSYNC" in out
    assert "ran route53.switch for dns-switch: INSYNC" in out
    assert f"journal  {journal}" in out and "complete:" in out
    sheet = tmp_path / "plan.xlsx"  # the plan as reviewers read it, and back
    assert f"plan     {sheet}" in out
    back = tmp_path / "plan-back.yaml"
    assert run_cli("import", str(sheet), "-o", str(back)).returncode == 0
    demo_plan = load_plan(ROOT / "checklists" / "demo.yaml").plan
    assert load_plan(back).plan.model_dump() == demo_plan.model_dump()
    assert wall < 180  # generous: the target (60 s) is measured in benchmarks/

    with JournalReader(journal) as reader:
        events = list(reader.events())
    created = events[0].payload
    assert created["mode"] == "rehearsal"
    kinds = [e.kind for e in events]
    steps = len(load_plan(demo_plan_path()).plan.steps)
    assert kinds.count("step.completed") == steps and "gate.overridden" not in kinds
    switch = next(e for e in events if e.kind == "action.ran" and e.step == "dns-switch")
    assert switch.payload["changes"][0]["before"] == [w.OLD_SERVER]
    assert switch.payload["status"] == "INSYNC"
    # the sticky resolver really held the old answer longer than the others
    flips = [e for e in events if e.kind == "dns.verdict" and e.payload.get("status") == "new"]
    first_new = {}
    for e in flips:
        first_new.setdefault(e.payload["resolver"], e.ts)
    assert first_new["lab-sticky"] > max(first_new["lab-a"], first_new["lab-capped"])
    # stragglers were seen, then drained
    sites = [e.payload for e in events if e.kind == "flow.site"]
    assert any(p["status"] == "straggler" for p in sites)

    html = tmp_path / "report.html"
    assert run_cli("report", "--journal", str(journal), "-o", str(html)).returncode == 0
    text = html.read_text()
    assert "lab-sticky" in text and "uploads-by-hour" in text and "<svg" in text
    # the propagation chart starts near Sunday's switch, not at Saturday's first observation
    assert "min after Sun 2026-12-06 0" in text
    assert "Sites that still sent to the old side after the switch" in text
    bundle = tmp_path / "bundle"
    # with the key its witness publisher signed with (beside the journal): another key is
    # refused, as `verify --witness` could only fail the bundle (issue 20)
    exported = run_cli("export", "--journal", str(journal), "-o", str(bundle))
    assert exported.returncode == 0, exported.stderr
    verified = run_cli("verify", str(bundle))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert run_cli("verify", str(journal)).returncode == 0
    # a demo never resumes an old world
    again = run_cli("demo", "--headless", "--journal", str(journal), cwd=tmp_path)
    assert again.returncode != 0 and "exists" in again.stderr


def test_interactive_demo_opens_with_live_panes(tmp_path: Path) -> None:
    prepared = setup(60, tmp_path / "j.sqlite", world_options=WorldOptions(shops=30))
    prepared.world.start()
    session = open_session(prepared)
    app = LeadApp(session, engines=True, welcome="The rehearsal world is running")

    async def scenario() -> None:
        async with app.run_test(size=(140, 42)) as pilot:
            deadline = time.monotonic() + 20
            dns_text = flows_text = ""
            while time.monotonic() < deadline:
                await pilot.pause(0.3)
                dns_pane = app.query_one(DnsPane)
                dns_text = str(dns_pane.query_one("#dns-head").render())
                resolvers = dns_pane.query_one("#dns-resolvers")
                if "2 record(s) observed" in dns_text and resolvers.row_count == 5:
                    break
            assert "2 record(s) observed" in dns_text
            assert any("rehearsal world" in n.message for n in app._notifications)
            await pilot.press("2")  # the flows pane
            while time.monotonic() < deadline:
                await pilot.pause(0.3)
                flows = app.query_one(FlowsPane).query_one("#flows")
                flows_text = " ".join(str(flows.get_row_at(i)) for i in range(flows.row_count))
                if (
                    "healthy" in flows_text
                    and app.query_one(FlowsPane).query_one("#sites").row_count
                ):
                    break
            assert "healthy" in flows_text
            # the header runs on the world's clock, not the wall clock
            assert app.now() >= prepared.document.plan.cutover.window.start - timedelta(minutes=2)
            await pilot.press("s")  # start the focused step (kickoff) as the lead
            await pilot.pause(0.5)

    try:
        asyncio.run(scenario())
        # a teammate watching this journal sees the world's time, not the wall clock
        watch = WatchSession(prepared.journal)
        try:
            seen = WatchApp(watch).now()
            assert abs((seen - prepared.clock.now()).total_seconds()) < 120
        finally:
            watch.close()
    finally:
        session.close()
        prepared.world.stop()
    with JournalReader(prepared.journal) as reader:
        events = list(reader.events())
    assert any(e.kind == "step.started" and e.step == "kickoff" for e in events)
    assert any(e.kind == "dns.verdict" for e in events)
    assert any(e.kind == "flow.state" for e in events)
    lines = JournalReader(prepared.journal).log_lines()
    assert any("POST /upload 201" in str(row) for row in lines)
    assert json.loads(json.dumps(prepared.world.summary()))["shops"] == 30
