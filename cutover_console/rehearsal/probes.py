"""The rehearsal world's probe network: a small Globalping, answering Globalping's REST API
(`/v1/limits`, `POST /v1/measurements`, `GET /v1/measurements/{id}` with ETags) for made-up
probes in a handful of cities and ISPs. Each probe asks its ISP's resolver, which is one of the
world's own caching resolvers (some honest, one capped, one sticky, one dead), over real DNS: the
vantage view of `cutover demo` shows the world's caches as the shops behind them see them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

PROBE_API = ("127.79.0.6", 10080)  # `checklists/demo.yaml` points `globalping.api` here
HOURLY_LIMIT = 250


@dataclass(frozen=True)
class DemoProbe:
    country: str
    city: str
    asn: int  # RFC 5398 documentation ASNs: nobody's real network
    network: str
    resolver: str  # which of the world's resolvers its ISP runs
    continent: str = "NA"
    region: str = "Northern America"


PROBES = (
    DemoProbe("US", "Dayton", 64501, "Buckeye Cable (demo)", "lab-a"),
    DemoProbe("US", "Tulsa", 64502, "Prairie Fiber (demo)", "lab-b"),
    DemoProbe("US", "Boise", 64503, "Snake River ISP (demo)", "lab-dead"),
    DemoProbe("CA", "Moncton", 64504, "Tidewater Telecom (demo)", "lab-capped"),
    DemoProbe(
        "GB", "Swindon", 64505, "Wessex Broadband (demo)", "lab-sticky", "EU", "Northern Europe"
    ),
    DemoProbe("GB", "Leeds", 64506, "Pennine Net (demo)", "lab-a", "EU", "Northern Europe"),
    DemoProbe("DE", "Kassel", 64507, "Nordhessen DSL (demo)", "lab-sticky", "EU", "Western Europe"),
    DemoProbe("DE", "Ulm", 64508, "Donau Kabel (demo)", "lab-b", "EU", "Western Europe"),
    DemoProbe(
        "AU",
        "Geelong",
        64509,
        "Bellarine Wireless (demo)",
        "lab-capped",
        "OC",
        "Australia and New Zealand",
    ),
)


def _location(probe: DemoProbe) -> dict[str, Any]:
    return {
        "continent": probe.continent,
        "region": probe.region,
        "country": probe.country,
        "state": None,
        "city": probe.city,
        "asn": probe.asn,
        "network": probe.network,
        "latitude": 0.0,
        "longitude": 0.0,
        "tags": ["eyeball-network"],
        "resolvers": ["private"],
    }


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class ProbeNetwork:
    """Started and stopped by the world; answers on PROBE_API."""

    def __init__(self, resolvers: dict[str, tuple[str, int]], address: tuple[str, int] = PROBE_API):
        self.resolvers = resolvers
        self.measurements: dict[str, dict[str, Any]] = {}
        self.spent = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        network = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                network._serve(self, "GET")

            def do_POST(self) -> None:
                network._serve(self, "POST")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(address, Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rehearsal-probes", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the API ----------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = min(int(handler.headers.get("Content-Length") or 0), 65536)
        raw = handler.rfile.read(length) if length else b""
        path = handler.path.split("?")[0]
        status, body, headers = self._route(method, path, raw, handler.headers.get("If-None-Match"))
        data = b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if data:
            handler.wfile.write(data)

    def _route(
        self, method: str, path: str, raw: bytes, etag: str | None
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if method == "GET" and path == "/v1/limits":
            create = {"type": "ip", "limit": HOURLY_LIMIT, "remaining": HOURLY_LIMIT, "reset": 3600}
            return 200, {"rateLimit": {"measurements": {"create": create}}}, {}
        if method == "POST" and path == "/v1/measurements":
            try:
                request = json.loads(raw or b"{}")
            except ValueError:
                request = None
            if not isinstance(request, dict) or request.get("type") != "dns":
                error = {"type": "validation_error", "message": "Parameter validation failed."}
                return 400, {"error": error}, {}
            return self._create(request)
        if method == "GET" and path.startswith("/v1/measurements/"):
            with self._lock:
                measurement = self.measurements.get(path.rsplit("/", 1)[1])
            if measurement is None:
                error = {"type": "not_found", "message": "Couldn't find the requested item."}
                return 404, {"error": error}, {}
            return self._result(measurement, etag)
        return 404, {"error": {"type": "not_found", "message": "Not found."}}, {}

    def _create(self, request: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        target = str(request.get("target", ""))[:253]
        options = request.get("measurementOptions") or {}
        qtype = str((options.get("query") or {}).get("type", "A"))
        ident = f"demo{next(self._ids):06d}"
        measurement: dict[str, Any] = {
            "id": ident,
            "target": target,
            "created": datetime.now(UTC),
            "results": None,
        }
        with self._lock:
            self.measurements[ident] = measurement
            self.spent += len(PROBES)
        threading.Thread(target=self._run, args=(measurement, target, qtype), daemon=True).start()
        headers = {
            "Location": f"/v1/measurements/{ident}",
            "X-RateLimit-Limit": str(HOURLY_LIMIT),
            "X-RateLimit-Consumed": str(len(PROBES)),
            "X-RateLimit-Remaining": str(HOURLY_LIMIT),
            "X-RateLimit-Reset": "3600",
        }
        return 202, {"id": ident, "probesCount": len(PROBES)}, headers

    def _run(self, measurement: dict[str, Any], target: str, qtype: str) -> None:
        results = [self._test(probe, target, qtype) for probe in PROBES]
        with self._lock:
            measurement["results"] = results

    def _test(self, probe: DemoProbe, target: str, qtype: str) -> dict[str, Any]:
        location = _location(probe)
        address, port = self.resolvers[probe.resolver]
        try:
            query = dns.message.make_query(target, dns.rdatatype.from_text(qtype))
            response = dns.query.udp(query, address, port=port, timeout=1.0)
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            raw = f";; connection timed out; no servers could be reached ({type(exc).__name__})"
            return {"probe": location, "result": {"status": "failed", "rawOutput": raw}}
        answers = [
            {
                "name": rrset.name.to_text(),
                "type": dns.rdatatype.to_text(rrset.rdtype),
                "ttl": int(rrset.ttl),
                "class": "IN",
                "value": rd.to_text(),
            }
            for rrset in response.answer
            for rd in rrset
        ]
        rcode = response.rcode()
        result = {
            "status": "finished",
            "rawOutput": "\n".join(
                f"{a['name']} {a['ttl']} IN {a['type']} {a['value']}" for a in answers
            ),
            "statusCode": int(rcode),
            "statusCodeName": dns.rcode.to_text(rcode),
            "resolver": "private",
            "answers": answers,
            "timings": {"total": 3},
        }
        return {"probe": location, "result": result}

    def _result(
        self, measurement: dict[str, Any], etag: str | None
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        with self._lock:
            results = measurement["results"]
        body = {
            "id": measurement["id"],
            "type": "dns",
            "status": "in-progress" if results is None else "finished",
            "createdAt": _stamp(measurement["created"]),
            "updatedAt": _stamp(measurement["created"]),
            "target": measurement["target"],
            "probesCount": len(PROBES),
            "results": results
            or [
                {"probe": _location(p), "result": {"status": "in-progress", "rawOutput": ""}}
                for p in PROBES
            ],
        }
        tag = (
            'W/"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16] + '"'
        )
        if etag == tag:
            return 304, None, {"ETag": tag}
        return 200, body, {"ETag": tag}
