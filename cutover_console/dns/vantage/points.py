"""One vantage point (a Globalping probe or an SSH host) and what it answered, classified.

Answers arrive as text (Globalping's JSON, dig's output), not as DNS messages: they are folded
into the same `Verdict` the resolvers' wire answers give, by the same rules (the CNAME chain
followed, the final RRset compared with the plan's old and new values, its TTL kept)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..classify import MAX_CNAME_HOPS, Status, TrackedRecord, Verdict, failure, normalise

FIELD_LIMIT = 200  # characters kept of a location field from outside (shown through untrusted)


@dataclass(frozen=True, slots=True)
class VantagePoint:
    """Where an answer was seen from. Every field but `key` and `source` comes from outside."""

    key: str  # stable across rounds: "gp-007" (Globalping keeps probe order on reuse), "ssh:NAME"
    source: str  # "globalping" or "ssh"
    country: str = ""
    city: str = ""
    asn: int | None = None
    network: str = ""
    continent: str = ""
    resolver: str = ""  # the resolver it asked ("private": a probe's resolver on a private IP)

    def as_json(self) -> dict[str, Any]:
        return {
            "point": self.key,
            "source": self.source,
            "country": self.country,
            "city": self.city,
            "asn": self.asn,
            "network": self.network,
            "continent": self.continent,
            "resolver": self.resolver,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    name: str
    rdtype: str
    ttl: int
    value: str


def _text(value: object) -> str:
    return value[:FIELD_LIMIT] if isinstance(value, str) else ""


def classify_answers(
    answers: list[Answer],
    record: TrackedRecord,
    observed_at: datetime,
    rcode: str,
    *,
    rtt_ms: float | None = None,
    detail: str = "",
) -> Verdict:
    """The verdict a resolver's wire answer would have given, from its records as text."""
    base: dict[str, Any] = {"observed_at": observed_at, "rtt_ms": rtt_ms, "detail": detail}
    code = rcode.upper()
    if code == "SERVFAIL":
        return Verdict("servfail", **base)
    if code == "REFUSED":
        return Verdict("refused", **base)
    if code not in ("NOERROR", "NXDOMAIN"):
        return Verdict("error", **{**base, "detail": detail or code[:40] or "no status"})
    name = record.name
    chain: list[str] = []
    final: list[Answer] = []
    for _ in range(MAX_CNAME_HOPS):
        final = [a for a in answers if a.name == name and a.rdtype == record.rdtype]
        if final or record.rdtype == "CNAME":
            break
        cname = next((a for a in answers if a.name == name and a.rdtype == "CNAME"), None)
        if cname is None:
            break
        name = cname.value.rstrip(".").lower()
        chain.append(name)
    if not final:
        status: Status = "nxdomain" if code == "NXDOMAIN" else "nodata"
        return Verdict(status, chain=chain, **base)
    values = sorted({normalise(record.rdtype, a.value) for a in final})
    found = set(values)
    if found == record.new:
        status = "new"
    elif found == record.old:
        status = "old"
    elif found <= (record.old | record.new) and found & record.old and found & record.new:
        status = "mixed"
    else:
        status = "other"
    ttl = min(a.ttl for a in final)
    return Verdict(status, answers=values, ttl=ttl, chain=chain, **base)


def answers_from_json(items: object) -> list[Answer]:
    """Globalping's `answers` ([{name, type, ttl, class, value}]), skipping malformed items."""
    out: list[Answer] = []
    if not isinstance(items, list):
        return out
    for item in items[:200]:
        if not isinstance(item, dict):
            continue
        name, rdtype, ttl, value = (item.get(k) for k in ("name", "type", "ttl", "value"))
        if not (isinstance(name, str) and isinstance(rdtype, str) and isinstance(value, str)):
            continue
        if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0:
            continue
        out.append(Answer(name.rstrip(".").lower()[:260], rdtype.upper()[:12], ttl, value[:300]))
    return out


def offline(observed_at: datetime, detail: str) -> Verdict:
    return failure("error", observed_at, detail, None)


def location_text(value: object) -> str:
    return _text(value)
