"""AWS probes through boto3: a CloudWatch metric (e.g. ALB RequestCount, RDS connections) or the
health of a load balancer target group. Credentials come from boto3's usual chain (environment,
profile, instance role), never from the plan."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..clock import Clock
from .reading import Reading


def read_aws_blocking(params: dict[str, Any], clock: Clock) -> Reading:
    import boto3

    session = boto3.session.Session()
    region = params.get("region") or session.region_name or "us-east-1"
    client_args: dict[str, Any] = {"region_name": region}
    if params.get("endpoint_url"):
        client_args["endpoint_url"] = str(params["endpoint_url"])
    now = clock.now()
    if "target_group_arn" in params:
        elb = session.client("elbv2", **client_args)
        health = elb.describe_target_health(TargetGroupArn=str(params["target_group_arn"]))
        states = [t["TargetHealth"]["State"] for t in health["TargetHealthDescriptions"]]
        healthy = states.count("healthy")
        ok = healthy >= int(params.get("min_healthy", 1))
        return Reading(
            ok,
            now,
            f"{healthy}/{len(states)} targets healthy",
            value=float(healthy),
            last_seen=now if ok else None,
        )
    cloudwatch = session.client("cloudwatch", **client_args)
    window = int(params.get("window", 300))
    stat = str(params.get("stat", "Sum"))
    dimensions = [
        {"Name": k, "Value": str(v)} for k, v in dict(params.get("dimensions", {})).items()
    ]
    result = cloudwatch.get_metric_statistics(
        Namespace=str(params.get("namespace", "AWS/ApplicationELB")),
        MetricName=str(params["metric"]),
        Dimensions=dimensions,
        StartTime=now - timedelta(seconds=window),
        EndTime=now,
        Period=int(params.get("period", 60)),
        Statistics=[stat],
    )
    points = sorted(result["Datapoints"], key=lambda p: p["Timestamp"])
    active = [p for p in points if float(p.get(stat, 0)) > 0]
    if not points:
        return Reading(True, now, f"no datapoints in the last {window} s", value=0.0)
    latest = points[-1]
    return Reading(
        True,
        now,
        f"{params['metric']} {stat} {float(latest[stat]):g}",
        value=float(latest[stat]),
        last_seen=active[-1]["Timestamp"] if active else None,
        count=int(sum(float(p[stat]) for p in points)),
    )
