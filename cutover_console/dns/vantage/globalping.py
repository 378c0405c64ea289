"""A client for Globalping's REST API (there is no official Python one), on httpx.

What its OpenAPI description asks of clients, and what this does: a `User-Agent` naming the tool;
`Accept-Encoding`; a measurement polled no sooner than 500 ms after the previous response, with
`If-None-Match` (a 304 means nothing changed), until its status is no longer `in-progress`; each
error answered by name (400 validation_error with its `params`, 401, 404, 422 no probes, 429 with
`Retry-After` and the `X-RateLimit-*` headers); `/v1/limits` read before scheduling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ...untrusted import clip

USER_AGENT = "cutover-console/0.1 (DNS propagation from vantage points; +python-httpx)"
POLL_GAP = 0.5  # seconds after each response before asking again (the API's guideline)
MEASUREMENT_DEADLINE = 60.0  # a DNS measurement finishes in seconds; past this it is a fault
RETRY_AFTER_CAP = 30.0  # a Retry-After longer than this ends the round instead of waiting

# What each error is called in the pane and the journal.
KINDS = {
    "validation": "request refused (400 validation_error)",
    "unauthorized": "token refused (401)",
    "not-found": "measurement not found (404)",
    "no-probes": "no probes match the locations (422)",
    "rate-limited": "rate limited (429)",
    "unreachable": "API unreachable",
    "bad-response": "API answered something unexpected",
    "deadline": "measurement still running past its deadline",
}


@dataclass(frozen=True)
class RateLimit:
    """The `X-RateLimit-*` headers of a response (None where absent)."""

    limit: int | None = None
    consumed: int | None = None
    remaining: int | None = None
    reset: int | None = None  # seconds until the window resets
    retry_after: int | None = None

    @classmethod
    def of(cls, response: httpx.Response) -> RateLimit:
        def number(name: str) -> int | None:
            value = response.headers.get(name, "")
            return int(value) if value.strip().isdigit() else None

        return cls(
            number("X-RateLimit-Limit"),
            number("X-RateLimit-Consumed"),
            number("X-RateLimit-Remaining"),
            number("X-RateLimit-Reset"),
            number("Retry-After"),
        )


class GlobalpingError(Exception):
    """A named failure: `kind` is a key of KINDS; the message is for people."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        params: dict[str, str] | None = None,
        rate: RateLimit | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.params = params or {}
        self.rate = rate or RateLimit()

    @property
    def title(self) -> str:
        return KINDS.get(self.kind, self.kind)


@dataclass(frozen=True)
class Limits:
    """`GET /v1/limits`: what is left of the hourly measurement budget."""

    type: str
    limit: int
    remaining: int
    reset: int  # seconds until the window resets
    credits: int | None = None


@dataclass
class Measurement:
    id: str
    probes_count: int
    body: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    not_modified: int = 0  # 304 answers to If-None-Match
    rate: RateLimit = field(default_factory=RateLimit)


class GlobalpingClient:
    """One API base URL and (optionally) a token. Async; one instance per engine."""

    def __init__(
        self,
        api: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        poll_gap: float = POLL_GAP,
        deadline: float = MEASUREMENT_DEADLINE,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        headers["Accept-Encoding"] = "gzip"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.api = api.rstrip("/")
        self.poll_gap = poll_gap
        self.deadline = deadline
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.api, headers=headers, timeout=timeout, follow_redirects=False
        )
        self.requests = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self.requests += 1
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise GlobalpingError("unreachable", f"{self.api}: {clip(reason, 160)}") from None

    async def limits(self) -> Limits:
        """What is left of this hour's budget, for this token or this IP address."""
        response = await self._send("GET", "/v1/limits")
        if response.status_code != 200:
            raise self._error(response, RateLimit.of(response))
        body = self._body(response)
        try:
            create = body["rateLimit"]["measurements"]["create"]
            credits = body.get("credits", {}).get("remaining")
            return Limits(
                str(create["type"]),
                int(create["limit"]),
                int(create["remaining"]),
                int(create["reset"]),
                int(credits) if isinstance(credits, int) else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise GlobalpingError(
                "bad-response", "/v1/limits did not say the measurement limits", status=200
            ) from None

    async def create(
        self,
        target: str,
        query_type: str,
        locations: list[dict[str, Any]] | str,
        *,
        resolver: str | None = None,
        trace: bool = False,
        limit: int | None = None,
    ) -> Measurement:
        """POST /v1/measurements (type dns). `locations` may be an earlier measurement's id, to
        ask the very same probes again."""
        options: dict[str, Any] = {"query": {"type": query_type}}
        if resolver:
            options["resolver"] = resolver
        if trace:
            options["trace"] = True
        request: dict[str, Any] = {
            "type": "dns",
            "target": target,
            "locations": locations,
            "measurementOptions": options,
        }
        if (
            limit is not None
            and isinstance(locations, list)
            and not any("limit" in loc for loc in locations)
        ):
            request["limit"] = limit
        for attempt in range(2):
            response = await self._send("POST", "/v1/measurements", json=request)
            rate = RateLimit.of(response)
            if response.status_code == 202:
                body = self._body(response)
                ident, count = body.get("id"), body.get("probesCount")
                if not isinstance(ident, str) or not isinstance(count, int):
                    raise GlobalpingError("bad-response", "202 without an id", status=202)
                return Measurement(ident[:64], count, rate=rate)
            error = self._error(response, rate)
            wait = rate.retry_after
            if (
                error.kind == "rate-limited"
                and attempt == 0
                and wait is not None
                and wait <= RETRY_AFTER_CAP
            ):
                await self._sleep(float(wait))
                continue
            raise error
        raise AssertionError("unreachable")  # the loop returns or raises

    async def result(self, measurement: Measurement) -> Measurement:
        """GET /v1/measurements/{id} until it is no longer in progress: 500 ms after each
        response, with the last ETag; a 429 waits its Retry-After."""
        started = time.monotonic()
        etag: str | None = None
        path = f"/v1/measurements/{measurement.id}"
        while True:
            headers = {"If-None-Match": etag} if etag else {}
            response = await self._send("GET", path, headers=headers)
            measurement.polls += 1
            if response.status_code == 304 and measurement.body:
                measurement.not_modified += 1
            elif response.status_code == 200:
                measurement.body = self._body(response)
                etag = response.headers.get("ETag") or etag
            elif response.status_code == 429:
                rate = RateLimit.of(response)
                wait = float(rate.retry_after or 1)
                if time.monotonic() - started + wait > self.deadline:
                    raise self._error(response, rate)
                await self._sleep(wait)
                continue
            else:
                raise self._error(response, RateLimit.of(response))
            status = measurement.body.get("status")
            if status != "in-progress":
                return measurement
            if time.monotonic() - started > self.deadline:
                raise GlobalpingError(
                    "deadline", f"measurement {measurement.id} still in progress", status=200
                )
            await self._sleep(self.poll_gap)

    async def measure(
        self,
        target: str,
        query_type: str,
        locations: list[dict[str, Any]] | str,
        **options: Any,
    ) -> Measurement:
        measurement = await self.create(target, query_type, locations, **options)
        await self._sleep(self.poll_gap)
        return await self.result(measurement)

    @staticmethod
    def _body(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise GlobalpingError(
                "bad-response",
                f"HTTP {response.status_code} without a JSON object",
                status=response.status_code,
            )
        return body

    def _error(self, response: httpx.Response, rate: RateLimit) -> GlobalpingError:
        code = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        message = clip(str(error.get("message") or f"HTTP {code}"), 300)
        kind = {400: "validation", 401: "unauthorized", 404: "not-found", 422: "no-probes"}.get(
            code, "rate-limited" if code == 429 else "bad-response"
        )
        params: dict[str, str] = {}
        raw = error.get("params")
        if isinstance(raw, dict):
            params = {clip(str(k), 80): clip(str(v), 200) for k, v in list(raw.items())[:20]}
        if kind == "rate-limited":
            etype = str(error.get("type") or "")
            if etype == "insufficient_credits":
                message = f"no credits left: {message}"
        return GlobalpingError(kind, message, status=code, params=params, rate=rate)
