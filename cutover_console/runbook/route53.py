"""Route 53 actions a step can run: lower the TTL, switch to the new values (capturing the old
ones for rollback), roll back. Each shows a preview of every change before it runs, waits for
Route 53 to report the change INSYNC, and returns what it did for the journal.

boto3 calls block: call these from a thread in the console. Credentials come from boto3's usual
chain (environment, profile, role), never from the plan.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from ..plan.model import Action, Plan
from .fold import CutoverState

KINDS = ("route53.lower_ttl", "route53.switch", "route53.rollback")


class Route53Error(Exception):
    """The action cannot be prepared (no zone, nothing to change); the message says why."""


@dataclass
class RecordChange:
    name: str
    type: str
    before: list[str]
    before_ttl: int | None
    after: list[str]
    after_ttl: int

    def describe(self) -> str:
        old = ", ".join(self.before) or "(absent)"
        return (
            f"UPSERT {self.name} {self.type}: {old} (TTL {self.before_ttl}) -> "
            f"{', '.join(self.after)} (TTL {self.after_ttl})"
        )


def _client(action: Action) -> Any:
    import boto3

    extra = action.model_extra or {}
    args: dict[str, Any] = {"region_name": extra.get("region", "us-east-1")}
    if extra.get("endpoint_url"):
        args["endpoint_url"] = str(extra["endpoint_url"])
    return boto3.client("route53", **args)


def _zone_id(client: Any, action: Action) -> str:
    extra = action.model_extra or {}
    if extra.get("hosted_zone_id"):
        return str(extra["hosted_zone_id"])
    zone = str(extra.get("zone", "")).rstrip(".")
    if not zone:
        raise Route53Error("the action names no `zone` or `hosted_zone_id`")
    for hosted in client.list_hosted_zones_by_name(DNSName=zone)["HostedZones"]:
        if hosted["Name"].rstrip(".") == zone:
            return str(hosted["Id"])
    raise Route53Error(f"no hosted zone {zone} in this account")


def _targets(action: Action, plan: Plan) -> list[tuple[str, str, list[str], int | None]]:
    """(name, type, new values, planned TTL) of the records the action touches."""
    extra = action.model_extra or {}
    zone = str(extra.get("zone", "")).rstrip(".").lower()
    wanted = {n.rstrip(".").lower() for n in extra.get("records", [])}
    out: list[tuple[str, str, list[str], int | None]] = []
    for record in plan.dns.records if plan.dns else []:
        for name in record.expanded():
            in_zone = not zone or name == zone or name.endswith("." + zone)
            if (name in wanted) if wanted else in_zone:
                out.append((name, record.type, list(record.new), record.ttl))
    if not out:
        raise Route53Error("the action matches no record of the plan's `dns:` section")
    return out


def _current(client: Any, zone_id: str, name: str, rtype: str) -> tuple[list[str], int | None]:
    found = client.list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=name, StartRecordType=rtype, MaxItems="1"
    )
    for rrset in found["ResourceRecordSets"]:
        if rrset["Name"].rstrip(".").lower() == name and rrset["Type"] == rtype:
            return [r["Value"] for r in rrset.get("ResourceRecords", [])], rrset.get("TTL")
    return [], None


def last_switch(state: CutoverState) -> dict[str, Any] | None:
    """The most recent successful Route 53 switch the journal recorded (what rollback undoes)."""
    latest = None
    for step in state.steps.values():
        for ran in step.actions:
            if (
                ran.get("kind") == "route53.switch"
                and ran.get("status") == "INSYNC"
                and (latest is None or ran["seq"] > latest["seq"])
            ):
                latest = ran
    return latest


def preview(action: Action, state: CutoverState) -> list[RecordChange]:
    """Every change the action would make, read from Route 53 now (nothing is written)."""
    client = _client(action)
    zone_id = _zone_id(client, action)
    extra = action.model_extra or {}
    if action.kind == "route53.rollback":
        switch = last_switch(state)
        if switch is None:
            raise Route53Error("nothing to roll back: the journal records no Route 53 switch")
        return [
            RecordChange(
                c["name"],
                c["type"],
                _current(client, zone_id, c["name"], c["type"])[0],
                None,
                c["before"],
                int(c["before_ttl"] or 300),
            )
            for c in switch["changes"]
            if c["before"]
        ]
    changes = []
    for name, rtype, new, planned_ttl in _targets(action, state.plan):
        values, ttl = _current(client, zone_id, name, rtype)
        if action.kind == "route53.lower_ttl":
            if not values:
                continue  # nothing published yet: nothing to lower
            after_ttl = int(extra.get("ttl", planned_ttl or 300))
            changes.append(RecordChange(name, rtype, values, ttl, values, after_ttl))
        else:
            changes.append(
                RecordChange(name, rtype, values, ttl, new, int(planned_ttl or ttl or 300))
            )
    return changes


def run(action: Action, changes: list[RecordChange], *, timeout: float = 300.0) -> dict[str, Any]:
    """Apply the previewed changes in one batch and wait until Route 53 says INSYNC.

    Never raises for a refused change: the result says `status: failed` and why."""
    started = time.monotonic()
    client = _client(action)
    result: dict[str, Any] = {
        "kind": action.kind,
        "changes": [asdict(c) for c in changes],
        "calls": [],
    }
    try:
        zone_id = _zone_id(client, action)
        batch = {
            "Comment": f"cutover-console {action.kind}",
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": c.name,
                        "Type": c.type,
                        "TTL": c.after_ttl,
                        "ResourceRecords": [{"Value": v} for v in c.after],
                    },
                }
                for c in changes
            ],
        }
        answer = client.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch=batch)
        change = answer["ChangeInfo"]
        result["calls"].append(
            {
                "op": "ChangeResourceRecordSets",
                "zone": zone_id,
                "changes": len(changes),
                "change_id": change["Id"],
                "status": change["Status"],
            }
        )
        status = change["Status"]
        while status != "INSYNC" and time.monotonic() - started < timeout:
            time.sleep(2)
            status = client.get_change(Id=change["Id"])["ChangeInfo"]["Status"]
        result["calls"].append({"op": "GetChange", "change_id": change["Id"], "status": status})
        result.update(status=status, change_id=change["Id"])
    except Exception as exc:  # ClientError, endpoint errors, Route53Error: a failed action
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:500])
    result["duration_s"] = round(time.monotonic() - started, 3)
    result["exit"] = 0 if result.get("status") == "INSYNC" else 1
    return result
