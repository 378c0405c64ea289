"""`dns.vantage:` in the plan: where else propagation is seen from, besides the lead's machine.

Globalping's probes (an open network run by jsDelivr, asked over its public REST API) and SSH
hosts the team controls. Both answer the same question as the resolvers of `dns:`, from where
the shops are. Validated here so that an unaffordable cadence or a private resolver is refused
by `cutover check`, with its file, line and column, not at 3 a.m. by the API.
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .durations import Duration
from .problems import clip

GLOBALPING_API = "https://api.globalping.io"
# Globalping's published limits (its OpenAPI description): tests an hour, probes a measurement.
ANONYMOUS_TESTS_PER_HOUR = 250
TOKEN_TESTS_PER_HOUR = 500
ANONYMOUS_PROBES = 50
TOKEN_PROBES = 500
MIN_CADENCE = timedelta(minutes=1)
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?"
)
_REFERENCE = re.compile(r"^(env|file):\S+$")


Cadence = Duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def not_public(address: str) -> str | None:
    """Why an IP address would be refused by Globalping (None when it is public)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.is_global and not ip.is_multicast:
        return None
    for what, test in (
        ("loopback", ip.is_loopback),
        ("private (RFC 1918 / ULA)", ip.is_private and not ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
    ):
        if test:
            return what
    return "not globally reachable (CGNAT, TEST-NET or another reserved range)"


def _reference(value: str, what: str) -> str:
    if not _REFERENCE.match(value):
        raise PydanticCustomError(
            "plan",
            "{what} must be a reference (env:NAME or file:/path), never the value itself",
            {"what": what},
        )
    return value


class GlobalpingLocation(_Strict):
    """One of Globalping's location filters, with how many probes to take there."""

    magic: str | None = None
    continent: Literal["AF", "AN", "AS", "EU", "NA", "OC", "SA"] | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    city: str | None = None
    asn: int | None = Field(default=None, ge=1)
    network: str | None = None
    tags: list[str] | None = None
    limit: int = Field(default=1, ge=1, le=200)

    @model_validator(mode="after")
    def _some_filter(self) -> GlobalpingLocation:
        if (
            not any(
                getattr(self, f)
                for f in ("magic", "continent", "country", "city", "asn", "network")
            )
            and not self.tags
        ):
            raise PydanticCustomError(
                "plan",
                "a location needs one of magic, continent, country, city, asn, network or tags "
                "(for example magic: 'DE+eyeball')",
            )
        return self

    def as_api(self) -> dict[str, object]:
        """The location as Globalping's `locations` items spell it."""
        return self.model_dump(exclude_none=True)


class GlobalpingSettings(_Strict):
    """Globalping: which probes, which resolver, how often, within which budget."""

    api: str = GLOBALPING_API
    token: str | None = None  # env:NAME; without one, the anonymous limits apply
    locations: list[GlobalpingLocation] = Field(min_length=1)
    resolver: str = "own"  # "own": each probe's system resolver (the ISP's, on eyeball networks)
    records: list[str] | None = None  # names to measure; default: the first name of each record
    cadence: Cadence = timedelta(minutes=5)
    budget_per_hour: int | None = Field(default=None, ge=1)  # default: the API's hourly limit

    @field_validator("api")
    @classmethod
    def _api(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/?#@]+(/[^\s?#@]*)?", value):
            raise PydanticCustomError(
                "plan",
                "'{value}' is not an API base URL (http(s)://host[:port], no credentials)",
                {"value": clip(value)},
            )
        return value.rstrip("/")

    @field_validator("token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        return None if value is None else _reference(value, "the token")

    @field_validator("resolver")
    @classmethod
    def _resolver(cls, value: str) -> str:
        if value == "own":
            return value
        why = not_public(value)
        if why is not None:
            raise PydanticCustomError(
                "plan",
                "resolver {value} is {why}: Globalping's probes cannot ask it (name a public "
                "resolver, or `own` for each probe's system resolver)",
                {"value": clip(value), "why": why},
            )
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _HOSTNAME.fullmatch(value):
                raise PydanticCustomError(
                    "plan",
                    "resolver '{value}' is neither `own`, an IP address nor a host name",
                    {"value": clip(value)},
                ) from None
        return value

    @field_validator("cadence")
    @classmethod
    def _cadence(cls, value: timedelta) -> timedelta:
        if value < MIN_CADENCE:
            raise PydanticCustomError("plan", "must be at least 1m (Globalping is not a pager)")
        return value

    @property
    def probes(self) -> int:
        return sum(location.limit for location in self.locations)

    @property
    def hourly_limit(self) -> int:
        return TOKEN_TESTS_PER_HOUR if self.token else ANONYMOUS_TESTS_PER_HOUR

    @property
    def budget(self) -> int:
        return self.budget_per_hour or self.hourly_limit

    def cost_per_hour(self, records: int) -> float:
        """Points an hour at this cadence: one per probe per measured record per round."""
        return 3600 / self.cadence.total_seconds() * self.probes * records

    @model_validator(mode="after")
    def _affordable(self) -> GlobalpingSettings:
        most = TOKEN_PROBES if self.token else ANONYMOUS_PROBES
        if self.probes > most:
            raise PydanticCustomError(
                "plan",
                "the locations ask for {n} probes; Globalping allows {most} per measurement {who}",
                {
                    "n": self.probes,
                    "most": most,
                    "who": "with a token" if self.token else "without a token (set `token:`)",
                    "item": ("locations",),
                },
            )
        if self.budget_per_hour is not None and self.budget_per_hour > self.hourly_limit:
            raise PydanticCustomError(
                "plan",
                "a budget of {b} an hour is above Globalping's {limit} tests an hour {who}",
                {
                    "b": self.budget_per_hour,
                    "limit": self.hourly_limit,
                    "who": "with a token" if self.token else "without a token",
                    "item": ("budget_per_hour",),
                },
            )
        return self


class SshVantageHost(_Strict):
    """A host the team controls (a VM per region, a new server, a PC at a pilot shop): the query
    runs there, with `dig`, over an SSH connection whose host key is pinned."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    address: str
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
    key: str  # file:/path of the private key
    host_key: str = Field(description="the host's public key, as in known_hosts: 'TYPE BASE64'")
    resolver: str = "own"  # the host's own resolver, or an IP address asked from there
    resolver_port: int = Field(default=53, ge=1, le=65535)
    country: str = ""
    city: str = ""
    network: str = ""
    timeout: float = Field(default=10.0, gt=0, le=120)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not value.startswith("file:"):
            raise PydanticCustomError(
                "plan", "the key must be a file: reference (file:/path/to/private_key)"
            )
        return value

    @field_validator("host_key")
    @classmethod
    def _host_key(cls, value: str) -> str:
        parts = value.split()
        if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
            raise PydanticCustomError(
                "plan",
                "'{value}' is not a public host key (write it as known_hosts does: "
                "'ssh-ed25519 AAAA…'; ssh-keyscan prints it)",
                {"value": clip(value, 40)},
            )
        return " ".join(parts[:2])

    @field_validator("resolver")
    @classmethod
    def _resolver(cls, value: str) -> str:
        if value != "own":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise PydanticCustomError(
                    "plan",
                    "resolver '{value}' is neither `own` (the host's resolver) nor an IP address",
                    {"value": clip(value)},
                ) from None
        return value


class VantageSection(_Strict):
    globalping: GlobalpingSettings | None = None
    ssh_hosts: list[SshVantageHost] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_hosts(self) -> VantageSection:
        seen: set[str] = set()
        for index, host in enumerate(self.ssh_hosts):
            if host.name in seen:
                raise PydanticCustomError(
                    "plan",
                    "two SSH vantage hosts are named '{name}'",
                    {"name": host.name, "item": ("ssh_hosts", index, "name")},
                )
            seen.add(host.name)
        return self


def check_budget(vantage: VantageSection, record_entries: int) -> None:
    """Refuse a cadence whose probes cost more an hour than the budget, naming the numbers.

    `record_entries`: the plan's `dns.records` entries (the first name of each is measured by
    default)."""
    settings = vantage.globalping
    if settings is None:
        return
    measured = len(settings.records) if settings.records is not None else record_entries
    cost = settings.cost_per_hour(max(measured, 1))
    if cost > settings.budget:
        minutes = settings.cadence.total_seconds() / 60
        slowest = 3600 * settings.probes * max(measured, 1) / settings.budget / 60
        raise PydanticCustomError(
            "plan",
            "every {m} min × {p} probes × {r} record(s) costs {cost} tests an hour, over the "
            "budget of {budget} (set cadence to at least {slow}m, or ask fewer probes)",
            {
                "m": f"{minutes:g}",
                "p": settings.probes,
                "r": max(measured, 1),
                "cost": f"{cost:g}",
                "budget": settings.budget,
                "slow": str(math.ceil(slowest)),
                "item": ("vantage", "globalping", "cadence"),
            },
        )
    for index, target in enumerate(settings.records or []):
        why = not_public(target)
        if why is not None:
            raise PydanticCustomError(
                "plan",
                "target {value} is {why}: Globalping refuses it",
                {
                    "value": clip(target),
                    "why": why,
                    "item": ("vantage", "globalping", "records", index),
                },
            )
