"""Asking one server one question over real UDP (TCP when truncated), with a socket per query.

dnspython's `asyncquery.udp` with a fresh socket per query: sharing one socket between concurrent
queries lets replies be stolen (dnspython issue 930).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdatatype

from ..clock import Clock
from .classify import TrackedRecord, Verdict, classify, failure

DEFAULT_TIMEOUT = 2.0


def make_query(
    name: str | dns.name.Name, rdtype: str, *, recursion: bool = True
) -> dns.message.Message:
    """A query with EDNS (so EDE options come back), CD=0 (show validation), RD as asked."""
    query = dns.message.make_query(name, dns.rdatatype.from_text(rdtype), use_edns=0, payload=1232)
    if not recursion:
        query.flags &= ~dns.flags.RD
    return query


async def ask(
    query: dns.message.Message, address: str, port: int, timeout: float = DEFAULT_TIMEOUT
) -> tuple[dns.message.Message, float]:
    """Send one query; returns the response and its RTT in ms. Raises dnspython/OS errors."""
    start = time.perf_counter()
    response, _tcp = await dns.asyncquery.udp_with_fallback(
        query, address, timeout=timeout, port=port
    )
    return response, (time.perf_counter() - start) * 1000


async def observe(
    record: TrackedRecord,
    address: str,
    port: int,
    clock: Clock,
    *,
    recursion: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> Verdict:
    """Ask and classify; network failures become `timeout` or `error` verdicts, never raise."""
    query = make_query(record.qname, record.rdtype, recursion=recursion)  # parsed once per name
    start = time.perf_counter()
    try:
        response, rtt = await ask(query, address, port, timeout)
    except dns.exception.Timeout:
        return failure("timeout", clock.now(), f"no answer within {timeout:g} s", None)
    except (OSError, dns.exception.DNSException, ValueError) as exc:
        elapsed = (time.perf_counter() - start) * 1000
        return failure("error", clock.now(), _describe(exc), elapsed)
    # The remaining TTL was read when the answer left the resolver: stamp it with the send time
    # plus half the round trip, not with whenever we got round to classifying it.
    return classify(response, record, _midpoint(clock, rtt), rtt)


def _midpoint(clock: Clock, rtt_ms: float) -> datetime:
    return clock.now() - timedelta(milliseconds=rtt_ms / 2)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there)"
    text = str(exc) or exc.__class__.__name__
    return text[:200]
