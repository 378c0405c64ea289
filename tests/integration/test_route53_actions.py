"""Route 53 actions (lower the TTL, switch, roll back, a refused change) with boto3 against moto's
server, through the rules and into the journal, and from the command line."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from servers import free_port
from support import SMALL, run_cli

from cutover_console.clock import ManualClock
from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan_text
from cutover_console.runbook import Cutover, route53


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def zone_with_old_records(endpoint: str, zone: str) -> tuple[object, str]:
    client = boto3.client("route53", endpoint_url=endpoint, region_name="us-east-1")
    zone_id = client.create_hosted_zone(Name=zone, CallerReference=zone)["HostedZone"]["Id"]
    client.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"{name}.{zone}",
                        "Type": "A",
                        "TTL": 86400,
                        "ResourceRecords": [{"Value": "198.51.100.10"}],
                    },
                }
                for name in ("upload", "app")
            ]
        },
    )
    return client, zone_id


def values(client: object, zone_id: str, name: str) -> tuple[list[str], int]:
    found = client.list_resource_record_sets(  # type: ignore[attr-defined]
        HostedZoneId=zone_id, StartRecordName=name, StartRecordType="A", MaxItems="1"
    )
    rrset = found["ResourceRecordSets"][0]
    return [r["Value"] for r in rrset["ResourceRecords"]], rrset["TTL"]


def plan_text(zone: str, endpoint: str) -> str:
    base = SMALL.read_text().split("dns:\n")[0]
    base = base.replace("upload.small.test", f"upload.{zone}")
    params = f"zone: {zone}, endpoint_url: '{endpoint}'"
    base = base.replace(
        "    owner: app-owner\n    duration: 15m\n",
        "    owner: app-owner\n    duration: 15m\n"
        f"    action: {{kind: route53.lower_ttl, ttl: 300, {params}}}\n",
        1,
    )
    base = base.replace(
        "    duration: 10m\n",
        f"    duration: 10m\n    action: {{kind: route53.switch, {params}}}\n",
        1,
    )
    base = base.replace(
        "    owner: lead\n    duration: 5m\n",
        f"    owner: lead\n    duration: 5m\n    action: {{kind: route53.rollback, {params}}}\n",
        1,
    )
    return (
        base
        + f"""dns:
  records:
    - {{name: upload.{zone}, type: A, old: [198.51.100.10], new: [203.0.113.20], ttl: 300}}
    - {{name: app.{zone}, type: A, old: [198.51.100.10], new: [203.0.113.20], ttl: 300}}
"""
    )


def test_lower_switch_rollback_journaled(moto_endpoint: str, tmp_path: Path) -> None:
    zone = "r53-one.test"
    client, zone_id = zone_with_old_records(moto_endpoint, zone)
    document = load_plan_text(plan_text(zone, moto_endpoint), "r53.yaml")
    clock = ManualClock(datetime(2026, 12, 6, 13, 0, tzinfo=UTC))
    writer = JournalWriter.create(
        tmp_path / "j.sqlite",
        document.text,
        document.sha256,
        "r53.yaml",
        Actor("lena", "t"),
        cutover_id="x",
        clock=clock,
    )
    cutover = Cutover(writer, clock)
    try:
        cutover.start("freeze", "omar")
        step = cutover.check_action("freeze", "omar")
        assert step.action is not None
        changes = route53.preview(step.action, cutover.state)  # nothing written yet
        assert {c.name for c in changes} == {f"upload.{zone}", f"app.{zone}"}
        assert all(c.before_ttl == 86400 and c.after_ttl == 300 for c in changes)
        assert values(client, zone_id, f"upload.{zone}")[1] == 86400
        result = route53.run(step.action, changes)
        assert result["status"] == "INSYNC"
        cutover.record_action("freeze", "omar", result)
        assert values(client, zone_id, f"upload.{zone}") == (["198.51.100.10"], 300)

        cutover.complete("freeze", "omar")
        cutover.start("backup", "lena", override="this test is about DNS")
        cutover.complete("backup", "lena", override="this test is about DNS")
        cutover.start("dns-switch", "nia")
        switch = cutover.check_action("dns-switch", "nia").action
        assert switch is not None
        changes = route53.preview(switch, cutover.state)
        assert [c.after for c in changes] == [["203.0.113.20"], ["203.0.113.20"]]
        result = route53.run(switch, changes)
        cutover.record_action("dns-switch", "nia", result)
        assert values(client, zone_id, f"app.{zone}")[0] == ["203.0.113.20"]
        ran = cutover.state.steps["dns-switch"].actions[0]
        assert ran["changes"][0]["before"] == ["198.51.100.10"]  # captured for rollback

        cutover.start("announce", "lena", override="roll back now")
        rollback = cutover.check_action("announce", "lena").action
        assert rollback is not None
        changes = route53.preview(rollback, cutover.state)
        assert {tuple(c.after) for c in changes} == {("198.51.100.10",)}
        result = route53.run(rollback, changes)
        cutover.record_action("announce", "lena", result)
        assert values(client, zone_id, f"upload.{zone}")[0] == ["198.51.100.10"]
    finally:
        writer.close()


def test_a_refused_change_is_journaled_as_failed(moto_endpoint: str, tmp_path: Path) -> None:
    zone = "r53-two.test"
    zone_with_old_records(moto_endpoint, zone)
    text = plan_text(zone, moto_endpoint).replace(
        f"action: {{kind: route53.switch, zone: {zone},",
        f"action: {{kind: route53.switch, hosted_zone_id: /hostedzone/NOPE, zone: {zone},",
        1,
    )
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    j = str(tmp_path / "j.sqlite")
    assert run_cli("init", str(plan), "--journal", j).returncode == 0
    for verb, step, who in (("start", "freeze", "omar"),):
        assert run_cli("step", verb, step, "-j", j, "--by", who).returncode == 0
    preview = run_cli("action", "freeze", "-j", j, "--by", "omar", "--preview")
    assert preview.returncode == 0 and "UPSERT upload.r53-two.test A" in preview.stdout
    lowered = run_cli("action", "freeze", "-j", j, "--by", "omar", "--yes")
    assert lowered.returncode == 0, lowered.stderr
    # said as what happened: the change id, INSYNC after how long, the records changed
    assert re.search(
        r"Route 53 change \S+ INSYNC after [\d.]+ s; \d+ records? changed", lowered.stdout
    )
    assert "upload.r53-two.test" in lowered.stdout and "exit 0" not in lowered.stdout
    run_cli("step", "done", "freeze", "-j", j, "--by", "omar")
    run_cli("step", "start", "backup", "-j", j, "--by", "lena", "--override", "dns test")
    run_cli("step", "done", "backup", "-j", j, "--by", "lena", "--override", "dns test")
    assert (
        run_cli(
            "step", "start", "dns-switch", "-j", j, "--by", "lena", "--override", "not before: test"
        ).returncode
        == 0
    )
    refused = run_cli("action", "dns-switch", "-j", j, "--by", "lena", "--yes")
    assert refused.returncode == 1 and "NoSuchHostedZone" in refused.stderr
    assert "Traceback" not in refused.stderr
    ran = [
        e for e in run_cli("events", "-j", j, "--jsonl").stdout.splitlines() if '"action.ran"' in e
    ]
    assert len(ran) == 1  # the lowering only: a preview that failed ran nothing


def test_a_change_route53_refuses_is_journaled_as_failed(
    moto_endpoint: str, tmp_path: Path
) -> None:
    zone = "r53-three.test"
    client, zone_id = zone_with_old_records(moto_endpoint, zone)
    document = load_plan_text(plan_text(zone, moto_endpoint), "r53.yaml")
    writer = JournalWriter.create(
        tmp_path / "j.sqlite",
        document.text,
        document.sha256,
        "r53.yaml",
        Actor("lena", "t"),
        cutover_id="x",
    )
    cutover = Cutover(writer, ManualClock(datetime(2026, 12, 6, 13, 0, tzinfo=UTC)))
    try:
        cutover.start("freeze", "omar")
        action = cutover.check_action("freeze", "omar").action
        assert action is not None
        changes = route53.preview(action, cutover.state)
        for name in ("upload", "app"):  # the zone disappears between preview and run
            client.change_resource_record_sets(  # type: ignore[attr-defined]
                HostedZoneId=zone_id,
                ChangeBatch={
                    "Changes": [
                        {
                            "Action": "DELETE",
                            "ResourceRecordSet": {
                                "Name": f"{name}.{zone}",
                                "Type": "A",
                                "TTL": 86400,
                                "ResourceRecords": [{"Value": "198.51.100.10"}],
                            },
                        }
                    ]
                },
            )
        client.delete_hosted_zone(Id=zone_id)  # type: ignore[attr-defined]
        result = route53.run(action, changes)
        assert result["status"] == "failed" and result["exit"] == 1
        event = cutover.record_action("freeze", "omar", result)
        assert event.payload["status"] == "failed" and "error" in event.payload
    finally:
        writer.close()
