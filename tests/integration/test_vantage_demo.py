"""The rehearsal world's probe network (`cutover demo`'s vantage view): it answers Globalping's
API as the pinned spec says, for probes whose ISP resolvers are the world's own caches."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from globalping_bed import SPEC_HOST, spec
from openapi_core.testing import MockRequest, MockResponse

from cutover_console.clock import ScaledClock
from cutover_console.dns.vantage.engine import VantageMonitor
from cutover_console.plan import load_plan
from cutover_console.rehearsal.demo import demo_plan_path
from cutover_console.rehearsal.probes import PROBE_API, PROBES
from cutover_console.rehearsal.world import World, WorldOptions

pytestmark = pytest.mark.integration


def test_demo_probes_see_the_worlds_caches_through_the_api(tmp_path: Path) -> None:
    plan = load_plan(demo_plan_path()).plan
    assert plan.dns is not None and plan.dns.vantage is not None
    gp = plan.dns.vantage.globalping
    assert gp is not None and gp.api == f"http://{PROBE_API[0]}:{PROBE_API[1]}"
    clock = ScaledClock(plan.cutover.window.start, 60)
    world = World(tmp_path, clock, WorldOptions(shops=5, stragglers=0))
    world.start()
    try:
        snapshot = asyncio.run(VantageMonitor(plan.dns, clock).once())
        # the same exchange, checked against Globalping's published spec
        body = {
            "type": "dns",
            "target": "upload.bodyshops.rehearsal.test",
            "locations": [{"magic": "world", "limit": 9}],
            "measurementOptions": {"query": {"type": "A"}},
        }
        with httpx.Client(base_url=gp.api) as client:
            created = client.post("/v1/measurements", json=body)
            request = MockRequest(
                SPEC_HOST, "post", "/v1/measurements", data=created.request.content
            )
            spec().validate_request(request)
            spec().validate_response(
                request,
                MockResponse(created.content, created.status_code, dict(created.headers)),
            )
            path = f"/v1/measurements/{created.json()['id']}"
            for _ in range(50):
                got = client.get(path)
                if got.json()["status"] != "in-progress":
                    break
                asyncio.run(asyncio.sleep(0.5))
            spec().validate_response(
                MockRequest(SPEC_HOST, "get", path), MockResponse(got.content, 200)
            )
            unchanged = client.get(path, headers={"If-None-Match": got.headers["ETag"]})
            assert unchanged.status_code == 304
    finally:
        world.stop()
    points = {p["point"]: p for p in snapshot["points"]}
    assert len(points) == len(PROBES)
    by_city = {p["city"]: p for p in points.values()}
    assert by_city["Boise"]["status"] == "error"  # its ISP's resolver is the dead one
    assert {by_city[c]["status"] for c in ("Dayton", "Kassel", "Swindon")} == {"old"}
    assert by_city["Kassel"]["ttl"] > 60  # a sticky cache: longer than the zone's lowered TTL
    assert {g["key"] for g in snapshot["by_country"]} == {"US", "CA", "GB", "DE", "AU"}
