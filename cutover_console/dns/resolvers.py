"""The public resolvers a propagation check asks by default, and the plan's own."""

from __future__ import annotations

from dataclasses import dataclass

from ..plan.model import DnsSection


@dataclass(frozen=True, slots=True)
class ResolverInfo:
    name: str
    address: str
    port: int = 53
    operator: str = ""
    region: str = ""
    anycast: bool = True
    qps: float = 10.0  # our politeness budget for this resolver, not its published limit

    @property
    def key(self) -> str:
        return f"{self.name}@{self.address}:{self.port}"


def _r(
    name: str, address: str, operator: str, region: str, anycast: bool = True, qps: float = 10.0
) -> ResolverInfo:
    return ResolverInfo(name, address, 53, operator, region, anycast, qps)


# Big anycast services get tens of queries per second, small ones a few (reference/dns.md).
PUBLIC_RESOLVERS: tuple[ResolverInfo, ...] = (
    _r("google-1", "8.8.8.8", "Google", "global", qps=30),
    _r("google-2", "8.8.4.4", "Google", "global", qps=30),
    _r("google-v6", "2001:4860:4860::8888", "Google", "global", qps=30),
    _r("cloudflare-1", "1.1.1.1", "Cloudflare", "global", qps=30),
    _r("cloudflare-2", "1.0.0.1", "Cloudflare", "global", qps=30),
    _r("cloudflare-v6", "2606:4700:4700::1111", "Cloudflare", "global", qps=30),
    _r("quad9", "9.9.9.9", "Quad9", "global", qps=20),
    _r("quad9-2", "149.112.112.112", "Quad9", "global", qps=20),
    _r("quad9-v6", "2620:fe::fe", "Quad9", "global", qps=20),
    _r("opendns-1", "208.67.222.222", "Cisco OpenDNS", "global", qps=20),
    _r("opendns-2", "208.67.220.220", "Cisco OpenDNS", "global", qps=20),
    _r("opendns-v6", "2620:119:35::35", "Cisco OpenDNS", "global", qps=20),
    _r("adguard", "94.140.14.140", "AdGuard", "Europe (Cyprus)"),
    _r("controld", "76.76.2.0", "Control D", "North America (Canada)"),
    _r("dnssb", "185.222.222.222", "DNS.SB", "Europe (Germany)"),
    _r("yandex", "77.88.8.8", "Yandex", "Russia"),
    _r("ultradns", "156.154.70.1", "Vercara UltraDNS", "North America (US)"),
    _r("comodo", "8.26.56.26", "Comodo", "North America (US)"),
    _r("level3", "4.2.2.2", "Lumen (Level 3)", "North America (US)"),
    _r("he", "74.82.42.42", "Hurricane Electric", "North America (US)"),
    _r("dns4eu", "86.54.11.100", "DNS4EU", "Europe (EU)"),
    _r("cira", "149.112.121.10", "CIRA Canadian Shield", "North America (Canada)"),
    _r("cznic", "193.17.47.1", "CZ.NIC ODVR", "Europe (Czechia)"),
    _r("quad101", "101.101.101.101", "TWNIC Quad101", "Asia (Taiwan)"),
    _r("alidns", "223.5.5.5", "Alibaba AliDNS", "Asia (China)"),
    _r("dnspod", "119.29.29.29", "Tencent DNSPod", "Asia (China)"),
    _r("114dns", "114.114.114.114", "114DNS", "Asia (China)"),
    _r("kt", "168.126.63.1", "KT", "Asia (South Korea)", anycast=False, qps=3),
    _r("hinet", "168.95.1.1", "Chunghwa HiNet", "Asia (Taiwan)", anycast=False, qps=3),
    _r("telstra", "139.130.4.4", "Telstra", "Oceania (Australia)", anycast=False, qps=3),
    _r("gcore", "95.85.95.85", "Gcore", "global"),
)


def resolvers_for(section: DnsSection | None) -> list[ResolverInfo]:
    """The plan's resolvers (`resolvers:` replaces the built-in set, `extra_resolvers:` adds)."""
    if section is not None and section.resolvers is not None:
        base = [_from_plan(r) for r in section.resolvers]
    else:
        base = list(PUBLIC_RESOLVERS)
    extra = [_from_plan(r) for r in section.extra_resolvers] if section is not None else []
    return base + extra


def _from_plan(r: object) -> ResolverInfo:
    from ..plan.model import Resolver

    assert isinstance(r, Resolver)
    return ResolverInfo(r.name, r.address, r.port, r.operator, r.region, r.anycast, r.qps)
