"""A local Globalping API for the tests: a real HTTP server on loopback that answers as the
published OpenAPI description (tests/globalping_spec/, pinned from jsdelivr/globalping) says, and
checks with openapi-core every request our client sends and every response it gives.

Probes are made up: each has a location and a function of the round giving its answers. Only what
a scenario asks for differs from a well-behaved API (in-progress polls, ETags, 429, 422, …).
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC = Path(__file__).parent / "globalping_spec" / "spec.yaml"
SPEC_HOST = (
    "https://api.globalping.io"  # the spec's server: requests are validated as if sent there
)
_SPEC: OpenAPI | None = None
_QUERY_TYPES: list[str] = []


def spec() -> OpenAPI:
    global _SPEC
    if _SPEC is None:
        _SPEC = OpenAPI.from_file_path(str(SPEC))
        schemas = yaml.safe_load((SPEC.parent / "components" / "schemas.yaml").read_text())
        _QUERY_TYPES.extend(schemas["components"]["schemas"]["DnsQueryType"]["enum"])
    return _SPEC


# An answer: (name, type, ttl, value); a probe answers a function of (round, target).
Answers = Callable[[int, str], list[tuple[str, str, int, str]]]


@dataclass
class FakeProbe:
    country: str
    city: str
    asn: int
    network: str
    answers: Answers
    continent: str = "EU"
    region: str = "Western Europe"
    resolvers: list[str] = field(default_factory=lambda: ["private"])
    resolver: str = "private"  # what it says it asked
    status: str = "finished"  # or "failed"
    offline_on_reuse: bool = False
    trace: bool = False  # answer with hops (the last one holds the answers)

    def location(self) -> dict[str, Any]:
        return {
            "continent": self.continent,
            "region": self.region,
            "country": self.country,
            "state": None,
            "city": self.city,
            "asn": self.asn,
            "network": self.network,
            "latitude": 50.1,
            "longitude": 8.7,
        }


@dataclass
class Scenario:
    probes: list[FakeProbe]
    in_progress_polls: int = 0  # GETs answered in progress (the first of them with partial results)
    etag: bool = True
    post_429_first: int = 0  # POSTs refused with 429 (Retry-After 1) before one is accepted
    get_429_first: int = 0
    no_probes: bool = False  # 422
    require_token: str | None = None  # 401 without `Authorization: Bearer <it>`
    limit_remaining: int = 250
    limit: int = 250


@dataclass
class Seen:
    method: str
    path: str
    at: float
    headers: dict[str, str]
    body: Any
    status: int = 0
    answered_at: float = 0.0


class GlobalpingBed:
    """Start, point a plan's `api:` at `.url`, read `.seen` and `.problems` (spec violations)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.seen: list[Seen] = []
        self.problems: list[str] = []
        self.measurements: dict[str, dict[str, Any]] = {}
        self.rounds = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        spec()
        bed = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                bed._handle(self, "get")

            def do_POST(self) -> None:
                bed._handle(self, "post")

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> GlobalpingBed:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the API ----------------------------------------------------------------------------
    def _handle(self, handler: http.server.BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        path = handler.path.split("?")[0]
        headers = {k: v for k, v in handler.headers.items()}
        seen = Seen(method, path, time.monotonic(), headers, None)
        try:
            seen.body = json.loads(raw) if raw else None
        except ValueError:
            seen.body = raw
        request = MockRequest(
            SPEC_HOST,
            method,
            path,
            headers=headers,
            data=raw or None,
            content_type=handler.headers.get("Content-Type", "application/json").split(";")[0],
        )
        try:
            spec().validate_request(request)
        except Exception as exc:  # every way openapi-core says "not as the spec says"
            self.problems.append(f"request {method.upper()} {path}: {type(exc).__name__}: {exc}")
        with self._lock:
            status, body, extra = self._answer(method, path, headers, seen.body)
        data = b"" if body is None else json.dumps(body).encode()
        out_headers = {"Content-Type": "application/json", **extra}
        if status in self._documented(method, path):
            try:
                spec().validate_response(request, MockResponse(data, status, out_headers))
            except Exception as exc:
                self.problems.append(
                    f"response {status} to {method.upper()} {path}: {type(exc).__name__}: {exc}"
                )
        # recorded before the answer leaves: recorded after, a client could read its answer
        # and the test look at `seen` before the last exchange was in it (it happened once
        # under a loaded full run: 3 polls seen of 4)
        seen.status = status
        seen.answered_at = time.monotonic()
        self.seen.append(seen)
        handler.send_response(status)
        for name, value in out_headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if data:
            handler.wfile.write(data)

    @staticmethod
    def _documented(method: str, path: str) -> set[int]:
        """The statuses the spec describes for this operation (a 304 or a 401 is not described
        there: those are checked by the tests themselves)."""
        if method == "post":
            return {202, 400, 422, 429}
        if path == "/v1/limits":
            return {200}
        return {200, 404, 429}

    def _error(self, status: int, kind: str, message: str, **more: Any) -> dict[str, Any]:
        return {"error": {"type": kind, "message": message, **more}}

    def _rate_headers(self, consumed: int) -> dict[str, str]:
        s = self.scenario
        return {
            "X-RateLimit-Limit": str(s.limit),
            "X-RateLimit-Consumed": str(consumed),
            "X-RateLimit-Remaining": str(max(s.limit_remaining, 0)),
            "X-RateLimit-Reset": "1800",
        }

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        s = self.scenario
        if s.require_token and headers.get("Authorization") != f"Bearer {s.require_token}":
            return 401, self._error(401, "unauthorized", "Invalid token."), {}
        if method == "get" and path == "/v1/limits":
            return (
                200,
                {
                    "rateLimit": {
                        "measurements": {
                            "create": {
                                "type": "user" if s.require_token else "ip",
                                "limit": s.limit,
                                "remaining": s.limit_remaining,
                                "reset": 1800,
                            }
                        }
                    }
                },
                {},
            )
        if method == "post" and path == "/v1/measurements":
            return self._create(body)
        if method == "get" and path.startswith("/v1/measurements/"):
            return self._result(path.rsplit("/", 1)[1], headers)
        return 404, self._error(404, "not_found", "Couldn't find the requested item."), {}

    def _create(self, body: Any) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        s = self.scenario
        if s.post_429_first > 0:
            s.post_429_first -= 1
            return (
                429,
                self._error(
                    429,
                    "rate_limit_exceeded",
                    "This measurement exceeds the remaining hourly rate limit for your IP address.",
                ),
                {**self._rate_headers(0), "Retry-After": "1"},
            )
        options = (body or {}).get("measurementOptions", {})
        qtype = options.get("query", {}).get("type", "A")
        if qtype not in _QUERY_TYPES:
            return (
                400,
                {
                    "error": {
                        "type": "validation_error",
                        "message": "Parameter validation failed.",
                        "params": {
                            "measurementOptions.query.type": (
                                '"measurementOptions.query.type" must be one of '
                                f"[{', '.join(_QUERY_TYPES)}]"
                            )
                        },
                    }
                },
                {},
            )
        locations = (body or {}).get("locations")
        reuse = isinstance(locations, str)
        if s.no_probes or (reuse and locations not in self.measurements):
            return (
                422,
                self._error(422, "no_probes_found", "No matching IPv4 probes available."),
                {},
            )
        ident = f"m{next(self._ids):04d}"
        self.rounds += 1
        probes = list(s.probes)
        cost = len(probes)
        s.limit_remaining -= cost
        self.measurements[ident] = {
            "target": body["target"],
            "qtype": qtype,
            "resolver": options.get("resolver"),
            "reuse": reuse,
            "round": self.rounds,
            "polls": 0,
            "probes": probes,
            "created": datetime.now(UTC),
        }
        return (
            202,
            {"id": ident, "probesCount": cost},
            {"Location": f"{SPEC_HOST}/v1/measurements/{ident}", **self._rate_headers(cost)},
        )

    def _result(
        self, ident: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        s = self.scenario
        if s.get_429_first > 0:
            s.get_429_first -= 1
            return (
                429,
                self._error(
                    429, "too_many_requests", "Too many requests. Please retry in 1 seconds."
                ),
                {"Retry-After": "1"},
            )
        m = self.measurements.get(ident)
        if m is None:
            return 404, self._error(404, "not_found", "Couldn't find the requested item."), {}
        m["polls"] += 1
        running = m["polls"] <= s.in_progress_polls
        body = self._body(ident, m, running, partial=m["polls"] == s.in_progress_polls)
        text = json.dumps(body, sort_keys=True)
        etag = f'W/"{abs(hash(text)) % 10**12}"'
        if s.etag and headers.get("If-None-Match") == etag:
            return 304, None, {"ETag": etag}
        return 200, body, ({"ETag": etag} if s.etag else {})

    def _body(self, ident: str, m: dict[str, Any], running: bool, partial: bool) -> dict[str, Any]:
        results = []
        for index, probe in enumerate(m["probes"]):
            done = not running or (partial and index < len(m["probes"]) // 2)
            results.append(
                {
                    "probe": {
                        **probe.location(),
                        "tags": ["eyeball-network"],
                        "resolvers": probe.resolvers,
                    },
                    "result": self._test(probe, m, done),
                }
            )
        # a body that did not change is byte for byte the same (so that its ETag matches)
        now = m["created"].strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return {
            "id": ident,
            "type": "dns",
            "status": "in-progress" if running else "finished",
            "createdAt": m["created"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "updatedAt": now,
            "target": m["target"],
            "probesCount": len(m["probes"]),
            "results": results,
        }

    @staticmethod
    def _test(probe: FakeProbe, m: dict[str, Any], done: bool) -> dict[str, Any]:
        if not done:
            return {"status": "in-progress", "rawOutput": ""}
        if probe.offline_on_reuse and m["reuse"]:
            return {"status": "offline", "rawOutput": ""}
        if probe.status == "failed":
            return {
                "status": "failed",
                "rawOutput": "connection timed out; no servers could be reached",
            }
        answers = [
            {"name": f"{n}.", "type": t, "ttl": ttl, "class": "IN", "value": v}
            for n, t, ttl, v in probe.answers(m["round"], m["target"])
        ]
        resolver = m["resolver"] or probe.resolver
        raw = "\n".join(f"{a['name']} {a['ttl']} IN {a['type']} {a['value']}" for a in answers)
        if probe.trace:
            return {
                "status": "finished",
                "rawOutput": raw,
                "hops": [
                    {"resolver": "a.root-servers.net", "answers": [], "timings": {"total": 20}},
                    {"resolver": "ns1.example.net", "answers": answers, "timings": {"total": 9}},
                ],
            }
        return {
            "status": "finished",
            "rawOutput": raw,
            "statusCode": 0 if answers else 3,
            "statusCodeName": "NOERROR" if answers else "NXDOMAIN",
            "resolver": resolver,
            "answers": answers,
            "timings": {"total": 11},
        }
