"""What one resolver said about one record: classified against the plan's old and new values.

Pure functions of a DNS message; the network lives in `probe.py`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from ..plan.model import DnsRecord

Status = Literal[
    "new", "old", "mixed", "other", "nxdomain", "nodata", "servfail", "refused", "timeout", "error"
]
ANSWERED: frozenset[str] = frozenset({"new", "old", "mixed", "other", "nxdomain", "nodata"})
FAILED: frozenset[str] = frozenset({"servfail", "refused", "timeout", "error"})
_RDTYPES = {t: dns.rdatatype.from_text(t) for t in ("A", "AAAA", "CNAME", "MX", "TXT")}
EDE_STALE_ANSWER = 3  # RFC 8914 Extended DNS Error "Stale Answer"
MAX_CNAME_HOPS = 16


@dataclass(frozen=True, slots=True)
class TrackedRecord:
    """One name the cutover changes, with the values before and after."""

    name: str  # lower-case, no trailing dot
    rdtype: str
    old: frozenset[str]
    new: frozenset[str]
    ttl: int | None  # the TTL the plan expects after lowering

    @property
    def key(self) -> str:
        return f"{self.name}/{self.rdtype}"

    @property
    def qname(self) -> dns.name.Name:
        return _qname(self.name)


@functools.lru_cache(maxsize=65536)
def _qname(name: str) -> dns.name.Name:
    return dns.name.from_text(name)


def tracked_records(records: list[DnsRecord]) -> list[TrackedRecord]:
    out: list[TrackedRecord] = []
    for record in records:
        old = frozenset(normalise(record.type, v) for v in record.old)
        new = frozenset(normalise(record.type, v) for v in record.new)
        out.extend(TrackedRecord(n, record.type, old, new, record.ttl) for n in record.expanded())
    return out


def normalise(rdtype: str, value: str) -> str:
    """Compare values the way DNS does: names case-insensitive and absolute, addresses canonical."""
    text = value.strip()
    if rdtype in ("CNAME", "MX", "NS"):
        parts = text.split()
        parts[-1] = parts[-1].rstrip(".").lower()
        return " ".join(parts)
    if rdtype in ("A", "AAAA"):
        import ipaddress

        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return text
    return text


@dataclass(slots=True)
class Verdict:
    """One observation of one record at one resolver."""

    status: Status
    observed_at: datetime
    answers: list[str] = field(default_factory=list)
    ttl: int | None = None  # remaining TTL of the RRset the cutover changes (or negative TTL)
    rtt_ms: float | None = None
    ad: bool = False
    chain: list[str] = field(default_factory=list)  # CNAME hops followed
    stale: bool = False  # the resolver marked it as a stale answer (EDE 3)
    detail: str = ""

    @property
    def expires_at(self) -> datetime | None:
        return self.observed_at + timedelta(seconds=self.ttl) if self.ttl is not None else None


def classify(
    message: dns.message.Message, record: TrackedRecord, observed_at: datetime, rtt_ms: float
) -> Verdict:
    """Classify a response: follow the CNAME chain in the answer, compare the final RRset."""
    ad = bool(message.flags & dns.flags.AD)
    stale = any(
        isinstance(opt, dns.edns.EDEOption) and opt.code == EDE_STALE_ANSWER
        for opt in message.options
    )
    rcode = message.rcode()
    base = {"observed_at": observed_at, "rtt_ms": rtt_ms, "ad": ad, "stale": stale}
    if rcode == dns.rcode.SERVFAIL:
        return Verdict("servfail", **base)  # type: ignore[arg-type]
    if rcode == dns.rcode.REFUSED:
        return Verdict("refused", **base)  # type: ignore[arg-type]
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return Verdict("error", detail=dns.rcode.to_text(rcode), **base)  # type: ignore[arg-type]
    wanted = _RDTYPES[record.rdtype]
    name = record.qname
    chain: list[str] = []
    rrset = None
    for _ in range(MAX_CNAME_HOPS):
        rrset = _find(message.answer, name, wanted)
        if rrset is not None or wanted == dns.rdatatype.CNAME:
            break
        cname = _find(message.answer, name, dns.rdatatype.CNAME)
        if cname is None:
            break
        name = cname[0].target
        chain.append(name.to_text(omit_final_dot=True).lower())
    if rrset is None:
        negative = _negative_ttl(message)
        status: Status = "nxdomain" if rcode == dns.rcode.NXDOMAIN else "nodata"
        return Verdict(status, ttl=negative, chain=chain, **base)  # type: ignore[arg-type]
    if wanted in (dns.rdatatype.A, dns.rdatatype.AAAA):
        values = sorted(rd.address for rd in rrset)  # already canonical text off the wire
    else:
        values = sorted(normalise(record.rdtype, rd.to_text()) for rd in rrset)
    found = set(values)
    if found == record.new:
        status = "new"
    elif found == record.old:
        status = "old"
    elif found <= (record.old | record.new) and found & record.old and found & record.new:
        status = "mixed"
    else:
        status = "other"
    return Verdict(status, answers=values, ttl=int(rrset.ttl), chain=chain, **base)  # type: ignore[arg-type]


def _find(
    section: list[dns.rrset.RRset], name: dns.name.Name, rdtype: int
) -> dns.rrset.RRset | None:
    for rrset in section:
        if rrset.name == name and rrset.rdtype == rdtype:
            return rrset
    return None


def _negative_ttl(message: dns.message.Message) -> int | None:
    """RFC 2308: a negative answer is cached for min(SOA TTL, SOA MINIMUM)."""
    for rrset in message.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(min(rrset.ttl, rrset[0].minimum))
    return None


def failure(status: Status, observed_at: datetime, detail: str, rtt_ms: float | None) -> Verdict:
    return Verdict(status, observed_at, rtt_ms=rtt_ms, detail=detail)
