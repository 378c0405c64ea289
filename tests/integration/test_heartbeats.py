"""Data-flow heartbeats against real components: PostgreSQL through psqlODBC, SQLite through the
SQLite ODBC driver and directly, sshd, an HTTP server, moto's CloudWatch, the file system."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from servers import CANARY, Blackhole, HttpServer, Postgres, Sshd, free_port
from support import SMALL, require_binary, run_cli

from cutover_console.clock import ManualClock, SystemClock
from cutover_console.heartbeats.evidence import gate_verdict
from cutover_console.heartbeats.flows import FlowMonitor
from cutover_console.heartbeats.logs import LocalTail, LogFollower
from cutover_console.journal import JournalReader
from cutover_console.plan import load_plan_text
from cutover_console.plan.model import Gate, LogSource

NOW = datetime.now(UTC).replace(microsecond=0)
SWITCH = NOW - timedelta(minutes=30)


@pytest.fixture(scope="module", autouse=True)
def now() -> None:
    """The data's "minutes ago" count from when this module's tests start, not from when the
    suite was collected: a longer suite reached them 10 minutes later, and shop-c's upload "five
    minutes ago" had drained by then."""
    global NOW, SWITCH
    NOW = datetime.now(UTC).replace(microsecond=0)
    SWITCH = NOW - timedelta(minutes=30)


def ts(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    require_binary("runuser")
    if not (Path("/usr/lib/postgresql/15/bin/postgres")).exists():
        require_binary("postgres-15-not-installed")
    # not under pytest's tmp dir: that is private to root, and PostgreSQL runs as `postgres`
    root = Path(tempfile.mkdtemp(prefix="cutover-pg-"))
    server = Postgres(root)
    server.start()
    server.sql(
        """
        CREATE TABLE uploads_old (shop text, received_at timestamp);
        CREATE SCHEMA msdb;
        CREATE TABLE msdb.sysjobs (job_id int, name text);
        CREATE TABLE msdb.sysjobhistory (instance_id int, job_id int, step_id int,
                                         run_status int, run_date int, run_time int);
        CREATE SCHEMA catalog;
        CREATE TABLE catalog.executions (execution_id int, package_name text,
                                         start_time timestamp, end_time timestamp, status int);
        CREATE SCHEMA reportserver;
        CREATE TABLE reportserver.executionlog3 (itempath text, timeend timestamp, status text);
        CREATE TABLE estimates (id int, shop text, total numeric);
    """,
        database="cutover",
    )
    rows = [("shop-a", 50), ("shop-b", 40), ("shop-c", 5), ("shop-d", 600)]  # minutes ago
    values = ", ".join(f"('{s}', '{ts(m)}')" for s, m in rows)
    server.sql(f"INSERT INTO uploads_old VALUES {values}", database="cutover")
    ran = NOW - timedelta(minutes=10)  # msdb keeps run_date yyyymmdd and run_time hhmmss
    day, hhmmss = int(ran.strftime("%Y%m%d")), int(ran.strftime("%H%M%S"))
    server.sql(
        f"""
        INSERT INTO msdb.sysjobs VALUES (1, 'CBI - Hourly KPI Rollup'), (2, 'CBI - Broken');
        INSERT INTO msdb.sysjobhistory VALUES (10, 1, 0, 1, {day}, {hhmmss}),
                                              (11, 2, 0, 0, {day}, {hhmmss});
        INSERT INTO catalog.executions VALUES
            (1, 'NightlyImport.dtsx', '{ts(60)}', '{ts(50)}', 7),
            (2, 'Broken.dtsx', '{ts(60)}', '{ts(55)}', 4);
        INSERT INTO reportserver.executionlog3 VALUES ('/CBI/Daily KPI', '{ts(10)}', 'rsSuccess');
        INSERT INTO estimates VALUES (1, 'shop-a', 100.50), (2, 'shop-b', 99.00);
    """,
        database="cutover",
    )
    os.environ["HB_PG_DSN"] = server.dsn()
    os.environ["HB_PG_BAD_DSN"] = server.dsn(password="wrong-" + CANARY)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def sqlite_new(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "new.db"
    conn = sqlite3.connect(path)
    conn.executescript(f"""
        CREATE TABLE uploads_new (shop text, received_at text);
        INSERT INTO uploads_new VALUES ('shop-b', '{ts(20)}'), ('shop-b', '{ts(2)}'),
                                       ('shop-e', '{ts(1)}');
        CREATE TABLE estimates (id int, shop text, total numeric);
        INSERT INTO estimates VALUES (1, 'shop-a', 100.50), (2, 'shop-b', 99.00);
    """)
    conn.commit()
    conn.close()
    os.environ["HB_SQLITE_DSN"] = f"Driver={{SQLite3}};Database={path};"
    return path


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    require_binary("sshd")
    server = Sshd(tmp_path_factory.mktemp("sshd"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def web() -> Iterator[HttpServer]:
    server = HttpServer(
        {
            "/health": (200, '{"db":"ok"}', 0),
            "/sick": (500, "boom", 0),
            "/slow": (200, "late", 3.0),
            "/wrongbody": (200, '{"db":"down"}', 0),
        }
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def plan_with(flows: str, extra: str = "") -> str:
    base = SMALL.read_text().split("dns:\n")[0]
    return (
        base
        + f"""dns:
  switch_at: "{SWITCH.isoformat()}"
  records:
    - {{name: upload.small.test, type: A, old: [198.51.100.10], new: [203.0.113.20], ttl: 300}}
flows:
{flows}
{extra}"""
    )


def monitor_for(flows: str, extra: str = "", clock: object = None) -> FlowMonitor:
    doc = load_plan_text(plan_with(flows, extra), "hb.yaml")
    return FlowMonitor(doc.plan, clock or SystemClock())  # type: ignore[arg-type]


UPLOADS = """  - id: uploads
    title: Shop uploads
    system: wcf
    late_after: 15m
    dead_after: 2h
    sites: true
    old: {kind: sql, id: old-uploads, dsn: "env:HB_PG_DSN",
          query: "SELECT shop, MAX(received_at), COUNT(*) FROM uploads_old GROUP BY shop"}
    new: {kind: sql, id: new-uploads, dsn: "env:HB_SQLITE_DSN",
          query: "SELECT shop, MAX(received_at), COUNT(*) FROM uploads_new GROUP BY shop"}
"""


def test_sites_stragglers_and_drain(pg: Postgres, sqlite_new: Path) -> None:
    monitor = monitor_for(UPLOADS)
    asyncio.run(monitor.poll_all())
    statuses = monitor.site_statuses("uploads")
    # a: sent to old before the switch, not since -> silent (late_after 15m)
    # b: old before the switch, new after -> moved; c: old AFTER the switch -> straggler
    # d: nothing for 10 h -> silent; e: only ever on new -> on new
    assert statuses == {
        "shop-a": "silent",
        "shop-b": "moved",
        "shop-c": "straggler",
        "shop-d": "silent",
        "shop-e": "on new",
    }
    assert monitor.flow_status("uploads", "old") == "healthy"  # shop-c arrived 5 min ago
    snap = monitor.snapshot()["flows"][0]
    assert snap["sites"]["stragglers"] == ["shop-c"]
    assert snap["sides"]["new"]["status"] == "healthy"
    drained = Gate(check="flow_drained", flow="uploads", minutes=10)
    ok, detail, _ = gate_verdict(monitor, drained)
    assert not ok and "(need 10)" in detail  # shop-c arrived about five minutes ago
    assert gate_verdict(monitor, Gate(check="flow_drained", flow="uploads", minutes=4))[0]
    on_new = gate_verdict(monitor, Gate(check="sites_on_new", flow="uploads"))
    assert not on_new[0] and "shop-a" in on_new[2]["missing"]


def test_late_and_dead_flows(pg: Postgres, sqlite_new: Path) -> None:
    clock = ManualClock(NOW)
    monitor = monitor_for(UPLOADS, clock=clock)
    asyncio.run(monitor.poll_all())
    assert monitor.flow_status("uploads", "new") == "healthy"
    clock.advance(timedelta(minutes=20))
    assert monitor.flow_status("uploads", "new") == "late"
    clock.advance(timedelta(hours=2))
    assert monitor.flow_status("uploads", "new") == "dead"
    assert not gate_verdict(monitor, Gate(check="flow_healthy", flow="uploads"))[0]


def test_recipes_on_msdb_ssisdb_reportserver_shapes(pg: Postgres) -> None:
    flows = "\n".join(
        f"""  - id: {fid}
    title: {fid}
    system: other
    late_after: 2h
    new: {{kind: {kind}, dialect: postgresql, dsn: "env:HB_PG_DSN", {key}: "{name}"}}"""
        for fid, kind, key, name in [
            ("agent-ok", "sql_agent_job", "job", "CBI - Hourly KPI Rollup"),
            ("agent-bad", "sql_agent_job", "job", "CBI - Broken"),
            ("ssis-ok", "ssis_execution", "package", "NightlyImport.dtsx"),
            ("ssis-bad", "ssis_execution", "package", "Broken.dtsx"),
            ("ssrs-ok", "ssrs_execution", "report", "/CBI/Daily KPI"),
            ("ssis-none", "ssis_execution", "package", "Never.dtsx"),
        ]
    )
    monitor = monitor_for(flows + "\n")
    asyncio.run(monitor.poll_all())
    status = {f: monitor.flow_status(f, "new") for f in monitor.flows}
    assert status == {
        "agent-ok": "healthy",
        "agent-bad": "failing",
        "ssis-ok": "healthy",
        "ssis-bad": "failing",
        "ssrs-ok": "healthy",
        "ssis-none": "failing",
    }
    assert "failed" in monitor.flows["ssis-bad"].sides["new"].reading.detail  # type: ignore[union-attr]


def test_sql_failure_modes_and_the_secret_never_shows(pg: Postgres, tmp_path: Path) -> None:
    hole = Blackhole()
    os.environ["HB_HOLE_DSN"] = (
        f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;"
        f"Port={hole.port};Database=x;Uid=u;Pwd={CANARY};"
    )
    flows = f"""  - id: wrong-password
    title: t
    system: other
    late_after: 1h
    new: {{kind: sql, dsn: "env:HB_PG_BAD_DSN", query: "SELECT 1"}}
  - id: bad-query
    title: t
    system: other
    late_after: 1h
    new: {{kind: sql, dsn: "env:HB_PG_DSN", query: "SELECT nothing FROM nowhere"}}
  - id: unset-secret
    title: t
    system: other
    late_after: 1h
    new: {{kind: sql, dsn: "env:HB_NOT_SET_ANYWHERE", query: "SELECT 1"}}
  - id: blackholed
    title: t
    system: other
    late_after: 1h
    new: {{kind: sql, dsn: "env:HB_HOLE_DSN", query: "SELECT 1", timeout: 2}}
  - id: sqlite-direct
    title: t
    system: other
    late_after: 1h
    new: {{kind: sqlite, path: "{tmp_path / "missing.db"}", query: "SELECT 1"}}
"""
    monitor = monitor_for(flows)
    try:
        start = time.monotonic()
        asyncio.run(monitor.poll_all())
        assert time.monotonic() - start < 6
    finally:
        hole.close()
    details = {f: s.sides["new"].reading.detail for f, s in monitor.flows.items()}  # type: ignore[union-attr]
    assert all(monitor.flow_status(f, "new") == "failing" for f in monitor.flows)
    assert "password authentication failed" in details["wrong-password"]
    assert "nowhere" in details["bad-query"]
    assert "HB_NOT_SET_ANYWHERE is not set" in details["unset-secret"]
    assert "unable to open" in details["sqlite-direct"].lower()
    text = json.dumps(monitor.snapshot())
    assert CANARY not in text  # neither the good nor the wrong password


def test_ssh_probe_with_known_hosts_and_columns(sshd: Sshd, tmp_path: Path) -> None:
    os.environ["HB_SSH_KEY"] = f"file:{sshd.client_key}"
    common = (
        f"host: 127.0.0.1, port: {sshd.port}, user: root, key: 'file:{sshd.client_key}', "
        f"known_hosts: '{sshd.known_hosts}'"
    )
    empty_known = tmp_path / "empty_known_hosts"
    empty_known.write_text("")
    flows = f"""  - id: service
    title: t
    system: windows_service
    late_after: 1h
    new: {{kind: ssh, {common}, command: "echo STATE RUNNING", expect: "RUNNING"}}
  - id: stopped
    title: t
    system: windows_service
    late_after: 1h
    new: {{kind: ssh, {common}, command: "echo STATE STOPPED", expect: "RUNNING"}}
  - id: exit-code
    title: t
    system: script
    late_after: 1h
    new: {{kind: ssh, {common}, command: "echo oops >&2; exit 3"}}
  - id: stranger
    title: t
    system: script
    late_after: 1h
    new: {{kind: ssh, host: 127.0.0.1, port: {sshd.port}, user: root,
          key: 'file:{sshd.client_key}', known_hosts: '{empty_known}', command: "true"}}
  - id: drop-sites
    title: t
    system: file_drop
    late_after: 1h
    sites: true
    new: {{kind: ssh, {common}, columns: [site, last_seen, count],
          command: "printf 'site,last_seen,count\\\\nshop-x,{ts(3)},4\\\\nshop-y,{ts(90)},1\\\\n'"}}
  - id: newest-file
    title: t
    system: file_drop
    late_after: 1h
    new: {{kind: ssh, {common}, last_seen: true, command: "date -u +%Y-%m-%dT%H:%M:%SZ"}}
"""
    monitor = monitor_for(flows)
    asyncio.run(monitor.poll_all())
    status = {f: monitor.flow_status(f, "new") for f in monitor.flows}
    assert status == {
        "service": "healthy",
        "stopped": "failing",
        "exit-code": "failing",
        "stranger": "failing",
        "drop-sites": "healthy",
        "newest-file": "healthy",
    }
    detail = monitor.flows["stranger"].sides["new"].reading.detail  # type: ignore[union-attr]
    assert "host key" in detail.lower() or "not trusted" in detail.lower()
    assert "exit 3: oops" in monitor.flows["exit-code"].sides["new"].reading.detail  # type: ignore[union-attr]
    assert set(monitor.flows["drop-sites"].sites) == {"shop-x", "shop-y"}


def test_http_tcp_file_probes(web: HttpServer, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{web.port}"
    fresh = tmp_path / "drop"
    fresh.mkdir()
    (fresh / "a.csv").write_text("x")
    flows = f"""  - id: ok
    title: t
    system: website
    late_after: 1h
    new: {{kind: http, url: "{base}/health", match: '"db":"ok"'}}
  - id: pinned
    title: t
    system: website
    late_after: 1h
    new: {{kind: http, url: "http://app.example.test:{web.port}/health",
          resolve: "app.example.test:{web.port}:127.0.0.1"}}
  - id: sick
    title: t
    system: website
    late_after: 1h
    new: {{kind: http, url: "{base}/sick"}}
  - id: wrong-body
    title: t
    system: website
    late_after: 1h
    new: {{kind: http, url: "{base}/wrongbody", match: '"db":"ok"'}}
  - id: slow
    title: t
    system: website
    late_after: 1h
    new: {{kind: http, url: "{base}/slow", timeout: 1}}
  - id: port-open
    title: t
    system: other
    late_after: 1h
    new: {{kind: tcp, host: 127.0.0.1, port: {web.port}}}
  - id: port-closed
    title: t
    system: other
    late_after: 1h
    new: {{kind: tcp, host: 127.0.0.1, port: {free_port()}}}
  - id: drop
    title: t
    system: file_drop
    late_after: 1h
    new: {{kind: file, path: "{fresh}", pattern: "*.csv"}}
  - id: no-drop
    title: t
    system: file_drop
    late_after: 1h
    new: {{kind: file, path: "{tmp_path / "absent"}"}}
"""
    monitor = monitor_for(flows)
    asyncio.run(monitor.poll_all())
    status = {f: monitor.flow_status(f, "new") for f in monitor.flows}
    assert status == {
        "ok": "healthy",
        "pinned": "healthy",
        "sick": "failing",
        "wrong-body": "failing",
        "slow": "failing",
        "port-open": "healthy",
        "port-closed": "failing",
        "drop": "healthy",
        "no-drop": "failing",
    }
    detail = {f: s.sides["new"].reading.detail for f, s in monitor.flows.items()}  # type: ignore[union-attr]
    assert detail["sick"] == "HTTP 500" and "does not match" in detail["wrong-body"]
    assert "no answer within" in detail["slow"]


def test_aws_cloudwatch_probe_against_moto() -> None:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        import boto3

        cw = boto3.client(
            "cloudwatch", region_name="us-east-2", endpoint_url=f"http://127.0.0.1:{port}"
        )
        cw.put_metric_data(
            Namespace="AWS/ApplicationELB",
            MetricData=[
                {
                    "MetricName": "RequestCount",
                    "Value": 42.0,
                    "Unit": "Count",
                    "Dimensions": [{"Name": "LoadBalancer", "Value": "app/cbi-prod-alb/1"}],
                    "Timestamp": datetime.now(UTC) - timedelta(seconds=30),
                }
            ],
        )
        flows = f"""  - id: alb
    title: t
    system: website
    late_after: 10m
    new: {{kind: aws, metric: RequestCount, namespace: AWS/ApplicationELB, region: us-east-2,
          dimensions: {{LoadBalancer: app/cbi-prod-alb/1}}, endpoint_url: "http://127.0.0.1:{port}"}}
  - id: quiet
    title: t
    system: website
    late_after: 10m
    new: {{kind: aws, metric: RequestCount, namespace: AWS/ApplicationELB, region: us-east-2,
          dimensions: {{LoadBalancer: app/other/2}}, endpoint_url: "http://127.0.0.1:{port}"}}
  - id: no-api
    title: t
    system: website
    late_after: 10m
    new: {{kind: aws, metric: RequestCount, region: us-east-2, timeout: 3,
          endpoint_url: "http://127.0.0.1:{free_port()}"}}
"""
        monitor = monitor_for(flows)
        asyncio.run(monitor.poll_all())
        assert monitor.flow_status("alb", "new") == "healthy"
        assert monitor.flows["alb"].sides["new"].reading.value == 42.0  # type: ignore[union-attr]
        assert monitor.flow_status("quiet", "new") == "no data"
        assert monitor.flow_status("no-api", "new") == "failing"
    finally:
        server.stop()


def test_reconciliation_match_and_mismatch(pg: Postgres, sqlite_new: Path) -> None:
    query = "SELECT COUNT(*), SUM(total) FROM estimates"
    extra = f"""reconcile:
  - id: estimates
    title: Estimates
    old: {{kind: sql, dsn: "env:HB_PG_DSN", query: "{query}"}}
    new: {{kind: sql, dsn: "env:HB_SQLITE_DSN",
          query: "SELECT COUNT(*), printf('%.2f', SUM(total)) FROM estimates"}}
"""
    monitor = monitor_for(UPLOADS, extra)
    asyncio.run(monitor.poll_all())
    assert monitor.reconciliations["estimates"].result["status"] == "match"  # type: ignore[index]
    conn = sqlite3.connect(sqlite_new)
    conn.execute("INSERT INTO estimates VALUES (3, 'shop-c', 1.00)")
    conn.commit()
    asyncio.run(monitor.poll_all())
    result = monitor.reconciliations["estimates"].result
    assert result is not None and result["status"] == "mismatch"
    assert result["only_new"] and result["only_old"]
    ok, detail, _ = gate_verdict(monitor, Gate(check="reconciliation", reconciliation="estimates"))
    assert not ok and "mismatch" in detail
    conn.execute("DELETE FROM estimates WHERE id = 3")
    conn.commit()
    conn.close()


def test_local_log_tail_follows_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("before start\n")
    tail = LocalTail(log)
    assert tail.read_new() == []  # like tail -n 0
    with log.open("a") as f:
        f.write("INFO one\nWARN two\n")
    assert tail.read_new() == ["INFO one", "WARN two"]
    with log.open("a") as f:
        f.write("ERROR last words of the old file\n")
    log.rename(tmp_path / "app.log.1")  # logrotate: move, then a new file
    log.write_text("INFO first of the new file\n")
    assert tail.read_new() == ["ERROR last words of the old file", "INFO first of the new file"]
    log.write_text("")  # copytruncate
    with log.open("a") as f:
        f.write("INFO after truncation\n")
    assert tail.read_new() == ["INFO after truncation"]


def test_log_follower_levels_filters_and_redaction(tmp_path: Path, sshd: Sshd) -> None:
    local = tmp_path / "svc.log"
    local.write_text("")
    remote = tmp_path / "remote.log"
    remote.write_text("")
    os.environ["HB_LOG_SECRET"] = "Pwd-" + CANARY
    from cutover_console.secrets import resolve

    resolve("env:HB_LOG_SECRET")  # a secret this process has used
    sources = [
        LogSource(id="local", title="local", side="old", path=str(local)),
        LogSource.model_validate(
            {
                "id": "remote",
                "title": "remote",
                "side": "new",
                "path": f"ssh://root@127.0.0.1:{sshd.port}{remote}",
                "key": f"file:{sshd.client_key}",
                "known_hosts": str(sshd.known_hosts),
            }
        ),
    ]
    follower = LogFollower(sources, SystemClock(), poll=0.1)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(follower.run(stop))
        await asyncio.sleep(1.5)
        with local.open("a") as f:
            f.write(f"2026-12-06 ERROR upload failed; conn=Server=x;Pwd=Pwd-{CANARY}\n")
            f.write("2026-12-06 INFO all good\n")
        with remote.open("a") as f:
            f.write("WARN remote one\n")
        await asyncio.sleep(1.0)
        remote.rename(tmp_path / "remote.log.1")
        remote.write_text("ERROR remote after rotation\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(follower.lines) < 4:
            await asyncio.sleep(0.2)
        stop.set()
        await task

    asyncio.run(scenario())
    texts = [(line.source, line.level, line.text) for line in follower.lines]
    assert ("remote", "WARN", "WARN remote one") in texts
    assert ("remote", "ERROR", "ERROR remote after rotation") in texts
    assert all(CANARY not in t for _, _, t in texts)
    assert [line.text for line in follower.filtered(level="ERROR", source="local")] == [
        "2026-12-06 ERROR upload failed; conn=Server=x;Pwd=***"
    ]
    assert len(follower.filtered(text="all good")) == 1


def test_flows_command_json_and_journal(pg: Postgres, sqlite_new: Path, tmp_path: Path) -> None:
    plan = tmp_path / "hb.yaml"
    plan.write_text(
        plan_with(UPLOADS).replace(
            "    duration: 15m\n",
            "    duration: 15m\n    gates: [{check: flow_drained, flow: uploads, minutes: 10}]\n",
            1,
        )
    )
    result = run_cli("flows", str(plan), "--once", "--json")
    assert result.returncode == 0, result.stderr
    snap = json.loads(result.stdout)
    flow = snap["flows"][0]
    assert flow["id"] == "uploads" and flow["sites"]["stragglers"] == ["shop-c"]
    assert set(flow["sides"]["old"]) >= {"kind", "status", "last_seen", "silence_s", "reading"}
    assert CANARY not in result.stdout + result.stderr
    journal = tmp_path / "j.sqlite"
    assert run_cli("init", str(plan), "--journal", str(journal)).returncode == 0
    assert run_cli("flows", str(plan), "--once", "--journal", str(journal)).returncode == 0
    with JournalReader(journal) as reader:
        events = list(reader.events())
    kinds = [e.kind for e in events]
    assert "flow.state" in kinds and kinds.count("flow.site") == 5
    gates = [e for e in events if e.kind == "gate.evaluated"]
    assert gates and gates[0].step == "freeze"
    assert gates[0].payload["gate"] == "flow-drained" and not gates[0].payload["ok"]
    raw = (
        journal.read_bytes() + Path(str(journal) + "-wal").read_bytes()
        if Path(str(journal) + "-wal").exists()
        else journal.read_bytes()
    )
    assert CANARY.encode() not in raw
    again = run_cli("flows", str(plan), "--once", "--journal", str(journal))
    assert again.returncode == 0
    with JournalReader(journal) as reader:
        assert sum(1 for e in reader.events() if e.kind == "flow.site") == 5  # changes only


def test_dead_source_does_not_delay_others(pg: Postgres, web: HttpServer) -> None:
    hole = Blackhole()
    os.environ["HB_HOLE_DSN"] = (
        f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={hole.port};Database=x;Uid=u;Pwd=x;"
    )
    flows = f"""  - id: dead
    title: t
    system: other
    late_after: 1h
    new: {{kind: sql, dsn: "env:HB_HOLE_DSN", query: "SELECT 1", timeout: 3}}
  - id: alive
    title: t
    system: website
    late_after: 1h
    new: {{kind: http, url: "http://127.0.0.1:{web.port}/health"}}
"""
    monitor = monitor_for(flows)
    done: dict[str, float] = {}

    async def main() -> None:
        start = time.monotonic()

        async def one(flow: str) -> None:
            await monitor.poll_side(flow, "new")
            done[flow] = time.monotonic() - start

        await asyncio.gather(one("dead"), one("alive"))

    try:
        asyncio.run(main())
    finally:
        hole.close()
    assert done["alive"] < 0.5 and done["dead"] >= 2.5
    assert monitor.flow_status("alive", "new") == "healthy"
