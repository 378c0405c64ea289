"""The Globalping backend against a local API that follows the published OpenAPI description
(tests/globalping_bed.py): every request and response is checked against the pinned spec."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from globalping_bed import FakeProbe, GlobalpingBed, Scenario
from hostile import HOSTILE, SHOWN, forbidden_in, missing
from support import SMALL, run_cli

from cutover_console.clock import SystemClock
from cutover_console.dns.vantage.engine import VantageMonitor
from cutover_console.dns.vantage.globalping import USER_AGENT, GlobalpingClient, GlobalpingError
from cutover_console.plan import load_plan_text

pytestmark = pytest.mark.integration

OLD, NEW = "198.51.100.10", "203.0.113.20"
NAME = "upload.small.test"


def plan_text(api: str, extra: str = "", records: str | None = None) -> str:
    base = SMALL.read_text(encoding="utf-8")
    assert base.rstrip().endswith("ttl: 300}"), "small.yaml's dns section must end the file"
    vantage = (
        "  vantage:\n"
        "    globalping:\n"
        f"      api: {api}\n"
        "      locations: [{country: DE, limit: 2}, {magic: 'FR+eyeball', limit: 2}]\n"
        "      cadence: 5m\n" + extra
    )
    return base.rstrip() + "\n" + (records or "") + vantage


def monitor_for(api: str, extra: str = "") -> VantageMonitor:
    document = load_plan_text(plan_text(api, extra))
    assert document.plan.dns is not None
    return VantageMonitor(document.plan.dns, SystemClock())


def fixed(value: str, ttl: int) -> Any:
    return lambda _round, target: [(target, "A", ttl, value)]


def probes() -> list[FakeProbe]:
    return [
        FakeProbe("DE", "Berlin", 3320, "Deutsche Telekom AG", fixed(NEW, 40)),
        FakeProbe("DE", "Munich", 3209, "Vodafone GmbH", fixed(OLD, 250)),
        FakeProbe("FR", "Paris", 3215, "Orange S.A.", fixed(NEW, 60)),
        FakeProbe("FR", "Lyon", 12322, "Free SAS", fixed(OLD, 120)),
    ]


@pytest.fixture
def bed(request: pytest.FixtureRequest) -> Iterator[GlobalpingBed]:
    scenario = getattr(request, "param", None) or Scenario(probes())
    server = GlobalpingBed(scenario).start()
    yield server
    server.stop()
    assert server.problems == [], "\n".join(server.problems)  # every exchange as the spec says


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_round_in_progress_then_partial_then_finished_with_etags(bed: GlobalpingBed) -> None:
    bed.scenario.in_progress_polls = 3
    monitor = monitor_for(bed.url)
    snapshot = run(monitor.once())
    gets = [s for s in bed.seen if s.method == "get" and s.path.startswith("/v1/measurements/")]
    assert len(gets) >= 4 and gets[-1].status == 200
    # polled no sooner than 500 ms after the previous response, with the last ETag
    for before, after in itertools.pairwise(gets):
        assert after.at - before.answered_at >= 0.49
        assert after.headers.get("If-None-Match")
    assert any(s.status == 304 for s in gets)  # in progress twice with the same body
    assert all(s.headers.get("User-Agent") == USER_AGENT for s in bed.seen)
    assert "cutover-console" in USER_AGENT
    assert bed.seen[0].path == "/v1/limits"  # read before the first round
    points = {p["point"]: p for p in snapshot["points"]}
    assert [points[k]["status"] for k in sorted(points)] == ["new", "old", "new", "old"]
    assert points["gp-001"]["ttl"] == 250 and points["gp-001"]["flips_by"] is not None
    assert points["gp-000"]["resolver"] == "private"
    countries = {c["key"]: c for c in snapshot["by_country"]}
    assert countries["DE"]["percent_new"] == 50.0 and countries["FR"]["points"] == 2
    assert countries["DE"]["ttl_left"] is not None and 240 <= countries["DE"]["ttl_left"] <= 250
    asns = {a["key"] for a in snapshot["by_asn"]}
    assert asns == {"AS3320", "AS3209", "AS3215", "AS12322"}
    assert snapshot["faults"] == {}


def test_probes_reused_round_to_round_and_offline_ones_named(bed: GlobalpingBed) -> None:
    bed.scenario.probes[1].offline_on_reuse = True
    monitor = monitor_for(bed.url)

    async def two_rounds() -> None:
        await monitor.globalping_round()
        await monitor.globalping_round()
        await monitor.close()

    run(two_rounds())
    posts = [s for s in bed.seen if s.method == "post"]
    assert isinstance(posts[0].body["locations"], list)
    assert posts[1].body["locations"] == monitor.reuse_id == "m0001"
    assert monitor.faults["globalping:offline"].startswith("1 probe(s) offline")
    row = next(r for r in monitor.rows() if r["point"] == "gp-001")
    assert row["status"] == "error" and row["detail"] == "probe offline"


def test_answers_mixing_old_and_new_with_ttls_and_cname_chain(bed: GlobalpingBed) -> None:
    def mixed(_round: int, target: str) -> list[tuple[str, str, int, str]]:
        return [
            (target, "CNAME", 300, "app.small.test."),
            ("app.small.test", "A", 30, OLD),
            ("app.small.test", "A", 30, NEW),
        ]

    bed.scenario.probes = [FakeProbe("BR", "São Paulo", 28573, "Claro S.A.", mixed)]
    snapshot = run(monitor_for(bed.url).once())
    (row,) = snapshot["points"]
    assert row["status"] == "mixed" and row["ttl"] == 30  # the changed RRset's TTL, not the CNAME's
    assert row["answers"] == sorted([OLD, NEW])


def test_trace_result_uses_the_last_hop(bed: GlobalpingBed) -> None:
    bed.scenario.probes = [
        FakeProbe("JP", "Tokyo", 2516, "KDDI", fixed(NEW, 90), trace=True),
    ]
    snapshot = run(monitor_for(bed.url).once())
    (row,) = snapshot["points"]
    assert row["status"] == "new" and row["resolver"] == "ns1.example.net"


def test_429_with_retry_after_then_success(bed: GlobalpingBed) -> None:
    bed.scenario.post_429_first = 1
    bed.scenario.get_429_first = 1
    monitor = monitor_for(bed.url)
    snapshot = run(monitor.once())
    posts = [s for s in bed.seen if s.method == "post"]
    assert [p.status for p in posts] == [429, 202]
    assert posts[1].at - posts[0].answered_at >= 0.95  # waited its Retry-After
    assert len(snapshot["points"]) == 4 and snapshot["faults"] == {}


def test_429_past_the_cap_is_a_fault_with_its_reset(bed: GlobalpingBed) -> None:
    bed.scenario.post_429_first = 5
    monitor = monitor_for(bed.url)
    snapshot = run(monitor.once())
    fault = snapshot["faults"]["globalping"]
    assert fault.startswith("rate limited (429)") and "resets at" in fault
    assert monitor.ledger is not None and monitor.ledger.blocked_until is not None


def test_422_no_probes_is_named(bed: GlobalpingBed) -> None:
    bed.scenario.no_probes = True
    snapshot = run(monitor_for(bed.url).once())
    assert snapshot["faults"]["globalping"].startswith("no probes match the locations (422)")
    assert snapshot["points"] == []


def test_400_validation_error_shows_its_params(bed: GlobalpingBed) -> None:
    async def ask() -> GlobalpingError:
        client = GlobalpingClient(bed.url)
        try:
            await client.measure(NAME, "WKS", [{"country": "DE", "limit": 1}])
        except GlobalpingError as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("WKS is not a query type the API takes")

    error = run(ask())
    assert error.kind == "validation" and error.status == 400
    assert "measurementOptions.query.type" in error.params
    # the bed refused it because the spec does: the one request in these tests that is not valid
    (problem,) = bed.problems
    assert "'WKS' is not one of" in problem
    bed.problems.clear()


def test_401_and_404_are_named(bed: GlobalpingBed) -> None:
    bed.scenario.require_token = "right-token"

    async def ask() -> tuple[GlobalpingError, GlobalpingError]:
        wrong = GlobalpingClient(bed.url, "wrong-token")
        right = GlobalpingClient(bed.url, "right-token")
        try:
            with pytest.raises(GlobalpingError) as refused:
                await wrong.limits()
            from cutover_console.dns.vantage.globalping import Measurement

            with pytest.raises(GlobalpingError) as missing_one:
                await right.result(Measurement("nope", 0))
            return refused.value, missing_one.value
        finally:
            await wrong.aclose()
            await right.aclose()

    refused, not_found = run(ask())
    assert refused.kind == "unauthorized" and refused.title == "token refused (401)"
    assert not_found.kind == "not-found" and not_found.status == 404


def test_api_unreachable_is_a_fault_not_a_crash() -> None:
    from servers import free_port

    monitor = monitor_for(f"http://127.0.0.1:{free_port()}")
    snapshot = run(monitor.once())
    assert snapshot["faults"]["globalping"].startswith("API unreachable")


def test_token_from_env_is_sent_and_never_shown(
    bed: GlobalpingBed, monkeypatch: pytest.MonkeyPatch
) -> None:
    bed.scenario.require_token = "gp-secret-4711"
    monkeypatch.setenv("GP_TOKEN_TEST", "gp-secret-4711")
    monitor = monitor_for(bed.url, "      token: env:GP_TOKEN_TEST\n")
    snapshot = run(monitor.once())
    assert len(snapshot["points"]) == 4
    assert "gp-secret-4711" not in json.dumps(snapshot)


def test_private_resolver_named_in_the_plan_is_refused_before_sending() -> None:
    from cutover_console.plan import PlanInvalid

    with pytest.raises(PlanInvalid) as refused:
        load_plan_text(plan_text("http://127.0.0.1:9", "      resolver: 192.168.1.1\n"))
    assert "private" in str(refused.value.problems[0].message)


def test_hostile_city_and_network_names_arrive_inert(bed: GlobalpingBed, tmp_path: Path) -> None:
    bed.scenario.probes = [
        FakeProbe("DE", hostile, 3320 + i, hostile, fixed(NEW, 60))
        for i, hostile in enumerate(HOSTILE)
    ]
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        plan_text(bed.url)
        .replace("limit: 2}, {magic", "limit: 20}, {magic")
        .replace("cadence: 5m", "cadence: 10m")
    )
    shown = run_cli(
        "dns", str(plan), "--once", "--timeout", "0.2", env={**os.environ, "COLUMNS": "400"}
    )
    assert shown.returncode == 0, shown.stderr
    assert forbidden_in(shown.stdout) == []
    assert missing(shown.stdout) == [], "hostile names must show literally"
    as_json = run_cli("dns", str(plan), "--once", "--json", "--timeout", "0.2")
    document = json.loads(as_json.stdout)
    assert forbidden_in(as_json.stdout) == []
    assert len(document["vantage"]["points"]) == len(HOSTILE)


def test_journaled_as_changes_with_faults_once_and_the_gate(
    bed: GlobalpingBed, tmp_path: Path
) -> None:
    from cutover_console.clock import SystemClock as Clock
    from cutover_console.dns.vantage.journaling import VantageJournal
    from cutover_console.journal import Actor, JournalWriter
    from cutover_console.journal import events as ev
    from cutover_console.runbook import Cutover

    flip_at = 2  # the Munich probe's ISP cache moves to the new address in round 2
    bed.scenario.probes[1].answers = lambda rnd, t: [(t, "A", 200, NEW if rnd >= flip_at else OLD)]
    text = plan_text(bed.url).replace(
        "{check: dns_propagated, records: [upload.small.test], percent: 90}",
        "{check: dns_vantage, percent: 75, countries: [DE]}",
    )
    assert "dns_vantage" in text
    document = load_plan_text(text)
    writer = JournalWriter.create(
        tmp_path / "j.sqlite",
        document.text,
        document.sha256,
        "plan.yaml",
        Actor.here("lena"),
        cutover_id=document.plan.cutover.id,
    )
    try:
        cutover = Cutover(writer, Clock())
        assert document.plan.dns is not None
        monitor = VantageMonitor(document.plan.dns, Clock())
        recorder = VantageJournal(cutover)

        async def rounds(n: int) -> None:
            for _ in range(n):
                await monitor.globalping_round()
            await monitor.close()

        run(rounds(1))
        assert recorder.record(monitor) == 4 + 1  # four verdicts, the gate (DE is 50 %: fails)
        gate = cutover.state.steps["verify-new"].gates["dns-vantage"]
        assert not gate.ok and "DE: 50 %" in gate.detail
        assert recorder.record(monitor) == 0  # nothing changed: nothing journaled
        run(rounds(1))  # round 2: Munich flips
        assert recorder.record(monitor) == 2  # one verdict changed, the gate now holds
        assert cutover.state.steps["verify-new"].gates["dns-vantage"].ok
        bed.scenario.no_probes = True
        run(rounds(1))
        run(rounds(1))
        recorder.record(monitor)
        assert recorder.record(monitor) == 0
        kinds = [e.kind for e in writer.events()]
        assert kinds.count(ev.DNS_VANTAGE) == 5
        assert kinds.count(ev.DNS_VANTAGE_FAULT) == 1  # once per change, not per round
        signals = cutover.state.signals
        assert signals.dns_vantage[("upload.small.test/A", "gp-001")]["status"] == "new"
        assert "globalping" in signals.vantage_faults
    finally:
        writer.close()


def journal_of_rounds(bed: GlobalpingBed, path: Path, rounds: int, text: str | None = None) -> None:
    from cutover_console.dns.vantage.journaling import VantageJournal
    from cutover_console.journal import Actor, JournalWriter
    from cutover_console.runbook import Cutover

    document = load_plan_text(text or plan_text(bed.url))
    writer = JournalWriter.create(
        path,
        document.text,
        document.sha256,
        "plan.yaml",
        Actor.here("lena"),
        cutover_id=document.plan.cutover.id,
    )
    try:
        cutover = Cutover(writer, SystemClock())
        assert document.plan.dns is not None
        monitor = VantageMonitor(document.plan.dns, SystemClock())
        recorder = VantageJournal(cutover)

        async def go() -> None:
            for _ in range(rounds):
                await monitor.globalping_round()
                recorder.record(monitor)
            await monitor.close()

        run(go())
    finally:
        writer.close()


def test_report_propagation_by_country_and_isp_predicted_against_actual(
    bed: GlobalpingBed, tmp_path: Path
) -> None:
    bed.scenario.probes[1].answers = lambda rnd, t: [(t, "A", 2, NEW if rnd >= 2 else OLD)]
    journal = tmp_path / "j.sqlite"
    journal_of_rounds(bed, journal, 2)
    out = tmp_path / "r.md"
    done = run_cli("report", "--journal", str(journal), "-o", str(out), "--no-rehearsal")
    assert done.returncode == 0, done.stderr
    report = out.read_text(encoding="utf-8")
    section = report.split("Propagation by country and ISP", 1)[1]
    assert "| DE | 2 | 100 |" in section  # Munich flipped: both German probes new
    assert "| FR | 2 | 50 |" in section and "not all new" in section
    munich = next(line for line in section.splitlines() if line.startswith("| gp-001"))
    assert "Vodafone GmbH" in munich and "| new |" in munich
    import re

    # TTL 2 s: seen new within seconds of when its old copy was predicted to expire
    difference = re.search(r"\| [+−](\d+) s \|$", munich)
    assert difference is not None and int(difference.group(1)) <= 5, munich


def test_hostile_probe_names_inert_in_the_pane_and_both_reports(
    bed: GlobalpingBed, tmp_path: Path
) -> None:
    import re

    from markdown_it import MarkdownIt
    from terminal import text_of_html

    bed.scenario.probes = [
        FakeProbe("DE", hostile, 3320 + i, hostile, fixed(NEW, 60))
        for i, hostile in enumerate(HOSTILE)
    ]
    text = (
        plan_text(bed.url)
        .replace("limit: 2}, {magic", "limit: 20}, {magic")
        .replace("cadence: 5m", "cadence: 10m")
    )
    journal = tmp_path / "j.sqlite"
    journal_of_rounds(bed, journal, 1, text)
    md_file, html_file = tmp_path / "r.md", tmp_path / "r.html"
    for out in (md_file, html_file):
        done = run_cli("report", "--journal", str(journal), "-o", str(out), "--no-rehearsal")
        assert done.returncode == 0, done.stderr
    rendered = MarkdownIt("commonmark").enable("table").render(md_file.read_text())
    assert not re.search(r"<(script|img|a)\b", rendered)
    assert missing(text_of_html(rendered)) == []
    page = html_file.read_text()
    assert not re.search(r"<(script|img|a)\b", page) and forbidden_in(page) == []
    assert missing(text_of_html(page)) == []
    # the console's vantage view, read from the same journal
    from cutover_console.journal import JournalReader
    from cutover_console.runbook import load_state
    from cutover_console.ui.views.vantage import VantageView

    with JournalReader(journal) as reader:
        state = load_state(reader)
    from textual.app import App

    class One(App[None]):
        def compose(self):  # type: ignore[no-untyped-def]
            yield VantageView()

    async def look() -> list[str]:
        app = One()
        async with app.run_test(size=(400, 60)) as pilot:
            view = app.query_one(VantageView)
            view.render_state(state, state.last_at or state.created_at, {})
            await pilot.pause()
            table = view.query_one("#vantage-points")
            return [
                " | ".join(getattr(c, "plain", str(c)) for c in table.get_row_at(i))
                for i in range(table.row_count)
            ]

    cells = run(look())
    assert len(cells) == len(HOSTILE)
    shown = "\n".join(cells)
    assert forbidden_in(shown) == []
    # markup and controls shown as typed (a cell holds 40 characters: the short ones whole)
    assert missing(shown, [s for s in SHOWN if len(s) <= 36]) == []


def test_pane_drills_down_from_a_country_or_network_to_its_probes(
    bed: GlobalpingBed, tmp_path: Path
) -> None:
    from textual.app import App, ComposeResult

    from cutover_console.journal import JournalReader
    from cutover_console.runbook import load_state
    from cutover_console.ui.table import KeyedTable
    from cutover_console.ui.views.vantage import VantageView

    bed.scenario.no_probes = False
    journal = tmp_path / "j.sqlite"
    journal_of_rounds(bed, journal, 1)
    with JournalReader(journal) as reader:
        state = load_state(reader)

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield VantageView()

    def plain(table: KeyedTable) -> list[str]:
        return [
            " | ".join(getattr(c, "plain", str(c)) for c in table.get_row_at(i))
            for i in range(table.row_count)
        ]

    async def look() -> tuple[list[str], list[str], list[str], str]:
        app = One()
        async with app.run_test(size=(200, 40)) as pilot:
            view = app.query_one(VantageView)
            now = state.last_at or state.created_at
            view.render_state(state, now, {})
            await pilot.pause()
            groups = view.query_one("#vantage-groups", KeyedTable)
            points = view.query_one("#vantage-points", KeyedTable)
            keys = [str(k.value) for k in groups.rows]
            first = plain(points)  # the first row (DE) is under the cursor
            groups.move_cursor(row=keys.index("country:FR"))
            view.render_state(state, now, {})
            await pilot.pause()
            france = plain(points)
            groups.move_cursor(row=keys.index("asn:AS3209"))
            view.render_state(state, now, {})
            await pilot.pause()
            head = getattr(view.query_one("#vantage-head").render(), "plain", "")
            return keys, first, france, plain(points)[0] + head

    keys, first, france, vodafone = run(look())
    assert keys[:2] == ["country:DE", "country:FR"] and "asn:AS3320" in keys
    assert len(first) == 2 and all("DE " in row for row in first)
    assert len(france) == 2 and {r.split(" | ")[1] for r in france} == {"FR Paris", "FR Lyon"}
    assert "Vodafone GmbH" in vodafone and "old" in vodafone
    assert "4 answering · 50 % new" in vodafone
