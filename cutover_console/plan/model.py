"""The cutover plan: what a migration lead writes in `checklists/*.yaml` and reviews like code.

Validation is strict (unknown keys are errors) so that a typo in a runbook is found at review or
at 3 a.m. Cross-references between sections (owners, dependencies, gate targets) are checked in
`crossrefs.py`, after the shapes here are known to be right.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .comms import CommsSection, StepComms
from .durations import Duration
from .problems import clip
from .timeparse import TimeSyntaxError, parse_time
from .vantage import VantageSection, check_budget


def _time(value: object) -> datetime:
    try:
        return parse_time(value)
    except TimeSyntaxError as exc:
        raise PydanticCustomError("plan", str(exc)) from None


WallTime = Annotated[datetime, BeforeValidator(_time)]
Ident = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", strip_whitespace=False)
]
Markdown = str

GateCheck = Literal[
    "dns_propagated",  # records new on >= percent of healthy resolvers
    "ttl_lowered",  # authorities serve the lowered TTL and old high-TTL copies have expired
    "authority_new",  # every authoritative server answers with the new value
    "flow_healthy",  # a flow's probe on one side reports fresh data
    "flow_drained",  # no arrivals on the old side for `minutes`
    "sites_on_new",  # every known site of a flow has been seen on the new side
    "reconciliation",  # a named old/new comparison matches
    "probe_ok",  # a named probe of a flow succeeds
    "dns_vantage",  # records new at >= percent of the vantage probes and hosts (per country)
]
GATE_CHECKS: tuple[str, ...] = GateCheck.__args__  # type: ignore[attr-defined]

SignOffMode = Literal["recorded", "signed"]

STEP_KINDS = ("task", "go_no_go", "milestone", "validation", "comms")


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt `depends_on` must not silently vanish."""

    model_config = ConfigDict(extra="forbid")


class Window(Strict):
    start: WallTime
    end: WallTime


class CutoverInfo(Strict):
    id: Ident
    name: str
    client: str
    timezone: str = Field(description="IANA zone of the client, e.g. America/Chicago")
    window: Window
    # Preparation (TTL lowering, comms) starts before the change window; steps may be scheduled
    # from here without a warning. The window is when customers are affected.
    prepare_from: WallTime | None = None
    description: Markdown = ""
    # signed: every sign-off must carry the signer's SSH signature (a step may say so alone)
    signoffs: SignOffMode = "recorded"

    @property
    def origin(self) -> datetime:
        """Where the planned schedule starts."""
        return self.prepare_from or self.window.start

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "plan",
                "unknown time zone '{zone}' (use an IANA name such as Europe/Berlin)",
                {"zone": clip(value)},
            ) from None
        return value


class Person(Strict):
    id: Ident
    name: str
    roles: list[Ident] = Field(min_length=1)
    contact: str = ""
    backup: Ident | None = None
    keys: list[str] = Field(default_factory=list)  # OpenSSH public keys, inline or file:PATH


class Phase(Strict):
    id: Ident
    title: str
    description: Markdown = ""
    rollback: Markdown = ""


class Gate(Strict):
    """A named evidence check that must hold before a step may be completed."""

    id: Ident | None = None
    check: GateCheck
    description: str = ""
    records: list[str] | None = None  # dns_*: record names; omitted = every record
    percent: float = Field(default=100.0, ge=0, le=100)
    flow: Ident | None = None
    side: Literal["old", "new"] = "new"
    minutes: int | None = Field(default=None, ge=1)
    probe: Ident | None = None
    reconciliation: Ident | None = None
    countries: list[str] | None = None  # dns_vantage: each of these countries on its own

    @model_validator(mode="after")
    def _parameters(self) -> Gate:
        needs = {
            "flow_healthy": ("flow",),
            "flow_drained": ("flow", "minutes"),
            "sites_on_new": ("flow",),
            "reconciliation": ("reconciliation",),
            "probe_ok": ("flow",),
        }.get(self.check, ())
        missing = [name for name in needs if getattr(self, name) is None]
        if missing:
            raise PydanticCustomError(
                "plan",
                "gate '{check}' needs {fields}",
                {"check": self.check, "fields": ", ".join(f"`{m}`" for m in missing)},
            )
        if self.id is None:
            self.id = self.check.replace("_", "-")
        return self


class SignOff(Strict):
    """Who must approve a step: `count` distinct people, each holding one of `roles`; with
    `each_role`, the signers must between them cover every listed role (lead AND approver)."""

    roles: list[Ident] = Field(min_length=1)
    count: int = Field(default=1, ge=1, le=10)
    each_role: bool = False

    @model_validator(mode="after")
    def _enough_signers(self) -> SignOff:
        if self.each_role and self.count < len(self.roles):
            raise PydanticCustomError(
                "plan",
                "each_role needs count >= the number of roles (set count: {n})",
                {"n": len(self.roles), "item": ("count",)},
            )
        return self


class Action(BaseModel):
    """An automated action a step can run after a preview. Parameters belong to each kind."""

    model_config = ConfigDict(extra="allow")
    kind: Literal["route53.lower_ttl", "route53.switch", "route53.rollback", "command"]
    description: str = ""

    @model_validator(mode="after")
    def _command_has_run(self) -> Action:
        extra = self.model_extra or {}
        if self.kind == "command" and not isinstance(extra.get("run"), str):
            raise PydanticCustomError(
                "plan", "a command action needs `run:` (the shell command, shown before it runs)"
            )
        return self


class Step(Strict):
    id: Ident
    title: str
    phase: Ident
    owner: Ident
    kind: Literal["task", "go_no_go", "milestone", "validation", "comms"] = "task"
    duration: Duration
    depends_on: list[Ident] = Field(default_factory=list)
    not_before: WallTime | None = None
    instructions: Markdown = ""
    gates: list[Gate] = Field(default_factory=list)
    signoff: SignOff | None = None
    signoffs: SignOffMode | None = None  # None: as the cutover says
    rollback: Markdown = ""
    point_of_no_return: bool = False
    action: Action | None = None
    comms: StepComms | None = None  # kind: comms: the update it sends when completed


class Resolver(Strict):
    name: str
    address: str
    port: int = Field(default=53, ge=1, le=65535)
    operator: str = ""
    region: str = ""
    anycast: bool = False
    qps: float = Field(default=20.0, gt=0, le=10000)  # our politeness budget for it

    @field_validator("address")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise PydanticCustomError(
                "plan",
                "'{value}' is not an IP address (resolvers are asked by address)",
                {"value": clip(value)},
            ) from None
        return value


_RANGE = re.compile(r"\{(\d+)\.\.(\d+)\}")
MAX_NAMES = 100_000  # DNS names in a plan: every one is asked of every resolver, every sweep
_MAX_DNS_NAME = 253  # characters in a DNS name (RFC 1035), trailing dot left out
_HUGE = 10**12  # counts past this are only "more than"; the product itself can be astronomic


_MAX_BOUND_DIGITS = 18  # a range bound; real patterns use 3-5 digits, int() of 5,000 fails


def count_names(pattern: str) -> int:
    """How many names `pattern` stands for, WITHOUT expanding it: the product of its range sizes
    (0 when a range counts down), clamped just above _HUGE (also for bounds too long to read)."""
    count = 1
    for match in _RANGE.finditer(pattern):
        low, high = match.group(1), match.group(2)
        if max(len(low), len(high)) > _MAX_BOUND_DIGITS:
            return _HUGE + 1
        count = min(count * max(0, int(high) - int(low) + 1), _HUGE + 1)
    return count


def show_count(count: int) -> str:
    return f"{count:,}" if count <= _HUGE else f"more than {_HUGE:,}"


def expand_names(pattern: str) -> list[str]:
    """`shop{001..800}.example.test` → 800 names, zero padding kept from the first bound.

    Several ranges multiply. Refuses (ValueError) to expand past MAX_NAMES: plans are checked for
    that before anything expands them, this is the last line of defence."""
    matches = list(_RANGE.finditer(pattern))
    if not matches:
        return [pattern]
    count = count_names(pattern)
    if count > MAX_NAMES:
        raise ValueError(f"{clip(pattern)} expands to {show_count(count)} names")
    fixed: list[str] = []
    choices: list[list[str]] = []
    at = 0
    for match in matches:
        low, high = match.group(1), match.group(2)
        width = len(low) if low.startswith("0") else 0
        fixed.append(pattern[at : match.start()])
        choices.append([f"{n:0{width}d}" for n in range(int(low), int(high) + 1)])
        at = match.end()
    tail = pattern[at:]
    out: list[str] = []
    for combo in itertools.product(*choices):
        out.append("".join(part + number for part, number in zip(fixed, combo, strict=True)) + tail)
    return out


def _name_problem(pattern: str) -> str | None:
    """What is wrong with a `name`/`names` entry, judged without expanding it."""
    matches = list(_RANGE.finditer(pattern))
    for match in matches:
        low, high = match.group(1), match.group(2)
        if max(len(low), len(high)) > _MAX_BOUND_DIGITS:
            return (
                f"the range {clip(match.group(0))} has too many digits "
                f"(at most {_MAX_BOUND_DIGITS} a bound)"
            )
        if int(high) < int(low):
            return f"the range {clip(match.group(0))} counts down (write the smaller number first)"
    count = count_names(pattern)
    if count > MAX_NAMES:
        return (
            f"the pattern '{clip(pattern)}' expands to {show_count(count)} names "
            f"(at most {MAX_NAMES} DNS names in a plan)"
        )
    longest = len(pattern.rstrip(".")) + sum(
        max(len(m.group(1)), len(str(int(m.group(2))))) - len(m.group(0)) for m in matches
    )
    if longest > _MAX_DNS_NAME:
        return (
            f"'{clip(pattern)}' is longer than a DNS name can be "
            f"(at most {_MAX_DNS_NAME} characters)"
        )
    return None


class DnsRecord(Strict):
    """A record the cutover changes. `names` expands a pattern or a list to many customer names."""

    name: str | None = None
    names: list[str] | None = None
    type: Literal["A", "AAAA", "CNAME", "MX", "TXT"] = "A"
    old: list[str] = Field(default_factory=list)  # empty: the name did not exist before
    new: list[str] = Field(min_length=1)
    ttl: int | None = Field(default=None, ge=0, le=604800)
    zone: str | None = None

    @model_validator(mode="after")
    def _name_or_names(self) -> DnsRecord:
        if (self.name is None) == (self.names is None):
            raise PydanticCustomError(
                "plan",
                "give exactly one of `name` or `names` (a list, or a pattern such as {example})",
                {"example": "shop{001..800}.example.test"},
            )
        for item, pattern in self.patterns():
            wrong = _name_problem(pattern)
            if wrong is not None:
                raise PydanticCustomError("plan", "{wrong}", {"wrong": wrong, "item": item})
        if self.type in ("A", "AAAA"):
            version = 4 if self.type == "A" else 6
            for side in ("old", "new"):
                for index, value in enumerate(getattr(self, side)):
                    try:
                        ok = ipaddress.ip_address(value).version == version
                    except ValueError:
                        ok = False
                    if not ok:
                        raise PydanticCustomError(
                            "plan",
                            "'{value}' is not an IPv{v} address (type {type} records hold one)",
                            {
                                "value": clip(str(value)),
                                "v": version,
                                "type": self.type,
                                "item": (side, index),
                            },
                        )
        return self

    def patterns(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(field path within the record, text) of each `name`/`names` entry."""
        if self.name is not None:
            return [(("name",), self.name)]
        return [(("names", i), n) for i, n in enumerate(self.names or [])]

    def expanded(self) -> list[str]:
        """Every fully qualified name this entry stands for, lower-case, no trailing dot."""
        raw = [self.name] if self.name is not None else list(self.names or [])
        out: list[str] = []
        for item in raw:
            out.extend(n.rstrip(".").lower() for n in expand_names(item))
        return out


class Authority(Strict):
    """An authoritative server, asked directly with recursion off."""

    name: str
    address: str
    port: int = Field(default=53, ge=1, le=65535)

    _ip = field_validator("address")(Resolver._ip.__func__)  # type: ignore[attr-defined]


class DnsSection(Strict):
    zone: str | None = None  # default: found from the records' SOA
    resolvers: list[Resolver] | None = None
    extra_resolvers: list[Resolver] = Field(default_factory=list)
    authorities: list[Authority] | None = None
    records: list[DnsRecord] = Field(default_factory=list)
    switch_at: WallTime | None = None
    vantage: VantageSection | None = None  # Globalping probes and SSH hosts (plan/vantage.py)

    @model_validator(mode="after")
    def _names_cap(self) -> DnsSection:
        """At most MAX_NAMES names in all, counted (never expanded) before anything expands them."""
        total = 0
        for r_index, record in enumerate(self.records):
            for where, pattern in record.patterns():
                total += count_names(pattern)
                if total > MAX_NAMES:
                    raise PydanticCustomError(
                        "plan",
                        "with the pattern '{pattern}' ({count} names) the plan has more than "
                        "{cap} DNS names (at most {cap} in a plan; list fewer records)",
                        {
                            "pattern": clip(pattern),
                            "count": show_count(count_names(pattern)),
                            "cap": MAX_NAMES,
                            "item": ("records", r_index, *where),
                        },
                    )
        return self

    @model_validator(mode="after")
    def _vantage_budget(self) -> DnsSection:
        if self.vantage is not None:  # one measured name per record entry by default
            check_budget(self.vantage, len(self.records))
        return self


ProbeKind = Literal[
    "sql",
    "sqlite",
    "sql_agent_job",
    "ssis_execution",
    "ssrs_execution",
    "ssh",
    "http",
    "tcp",
    "aws",
    "file",
]


class Probe(BaseModel):
    """Where a flow's heartbeat is read. Parameters belong to each kind; secrets are references."""

    model_config = ConfigDict(extra="allow")
    id: Ident | None = None
    kind: ProbeKind


FlowSystem = Literal[
    "wcf", "website", "ssis", "ssrs", "sql_agent", "windows_service", "script", "file_drop", "other"
]


class Flow(Strict):
    id: Ident
    title: str
    system: FlowSystem
    late_after: Duration
    dead_after: Duration | None = None
    every: Duration = timedelta(seconds=30)  # how often its probes are read
    sites: bool = False
    old: Probe | None = None
    new: Probe | None = None
    description: Markdown = ""

    @model_validator(mode="after")
    def _has_probe(self) -> Flow:
        if self.old is None and self.new is None:
            raise PydanticCustomError("plan", "a flow needs a probe: give `old:`, `new:` or both")
        return self


class Reconciliation(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: Ident
    title: str
    old: Probe
    new: Probe


class LogSource(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: Ident
    title: str
    side: Literal["old", "new", "other"] = "other"
    path: str


def _retention_days(value: object) -> timedelta:
    """An Object Lock retention: whole days or years (`90d`, `7y`), far beyond a step's 30d."""
    match = re.fullmatch(r"([1-9][0-9]{0,4})([dy])", value) if isinstance(value, str) else None
    if match is None:
        raise PydanticCustomError(
            "plan",
            "{value} is not a retention (write whole days or years: 90d, 400d, 7y)",
            {"value": clip(repr(value), 40)},
        )
    number = int(match.group(1))
    return timedelta(days=number * (365 if match.group(2) == "y" else 1))


Retention = Annotated[timedelta, BeforeValidator(_retention_days)]
_S3_ADDRESS = re.compile(
    r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](?:/[A-Za-z0-9!_.*'()\-]+)*/?"
)


class ArchiveSection(Strict):
    """The witness and archive: signed checkpoints and the events, published to S3 with Object
    Lock (compliance mode). `cutover run/demo/tabletop --archive` overrides `to`."""

    to: str = Field(description="s3://BUCKET/PREFIX")
    retention: Retention = timedelta(days=90)  # every object locked this long, compliance mode
    lag: Duration = timedelta(seconds=60)  # everything journaled reaches the archive within it
    checkpoint_every: Duration = timedelta(minutes=5)  # besides one at every decision

    @field_validator("to")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _S3_ADDRESS.fullmatch(value) or ".." in value or "/./" in f"{value}/":
            raise PydanticCustomError(
                "plan",
                "{value} is not an S3 address (s3://BUCKET/PREFIX: a bucket name of 3-63 "
                "lowercase letters, digits, dots and hyphens; credentials come from the AWS "
                "configuration, never the plan)",
                {"value": clip(repr(value), 80)},
            )
        return value

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: timedelta) -> timedelta:
        if not timedelta(days=1) <= value <= timedelta(days=36500):
            raise PydanticCustomError("plan", "must be between 1d and 100y (compliance mode)")
        return value

    @field_validator("lag")
    @classmethod
    def _lag(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=5) <= value <= timedelta(hours=1):
            raise PydanticCustomError("plan", "must be between 5s and 1h")
        return value

    @field_validator("checkpoint_every")
    @classmethod
    def _every(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=10) <= value <= timedelta(minutes=5):
            raise PydanticCustomError("plan", "must be between 10s and 5m (at least every 5m)")
        return value


class Plan(Strict):
    """One cutover, as reviewed. `text`/`sha256` are filled by the loader, not the author."""

    version: Literal[1] = 1
    cutover: CutoverInfo
    people: list[Person] = Field(min_length=1)
    phases: list[Phase] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    dns: DnsSection | None = None
    flows: list[Flow] = Field(default_factory=list)
    reconcile: list[Reconciliation] = Field(default_factory=list)
    logs: list[LogSource] = Field(default_factory=list)
    archive: ArchiveSection | None = None
    comms: CommsSection | None = None  # stakeholder updates (plan/comms.py)
    _step_index: tuple[list[Step], int, dict[str, Step]] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _localise_times(self) -> Plan:
        """Naive times in the plan mean the client's wall clock."""
        zone = ZoneInfo(self.cutover.timezone)

        def local(value: datetime) -> datetime:
            return value.replace(tzinfo=zone) if value.tzinfo is None else value

        self.cutover.window.start = local(self.cutover.window.start)
        self.cutover.window.end = local(self.cutover.window.end)
        if self.cutover.prepare_from is not None:
            self.cutover.prepare_from = local(self.cutover.prepare_from)
        for step in self.steps:
            if step.not_before is not None:
                step.not_before = local(step.not_before)
        if self.dns is not None and self.dns.switch_at is not None:
            self.dns.switch_at = local(self.dns.switch_at)
        return self

    # Convenience lookups used by the rules, the fold and the views.
    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.cutover.timezone)

    def step(self, step_id: str) -> Step:
        """The (first) step with this id. Indexed: views and `check` ask once per step, and a
        scan each time made a 10,000-step plan quadratic."""
        cached = self._step_index
        if cached is None or cached[0] is not self.steps or cached[1] != len(self.steps):
            index: dict[str, Step] = {}  # a replaced or grown list is indexed again
            for step in self.steps:
                index.setdefault(step.id, step)
            cached = self._step_index = (self.steps, len(self.steps), index)
        found = cached[2].get(step_id)
        if found is not None and found.id == step_id:
            return found
        for step in self.steps:  # an id changed in place since it was indexed
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def person(self, person_id: str) -> Person:
        for person in self.people:
            if person.id == person_id:
                return person
        raise KeyError(person_id)

    def roles(self) -> set[str]:
        return {role for person in self.people for role in person.roles}


def plain(value: Any) -> Any:
    """A JSON-friendly copy of model data (datetimes as ISO text, durations as seconds)."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(exclude_none=True))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value
