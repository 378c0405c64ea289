"""Checks that span sections: ids, references, cycles, secrets, and fitting the window."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from .model import Plan
from .problems import Path, PlanProblem
from .schedule import planned
from .timeparse import format_duration
from .yaml_source import SourceMap

_SECRET_KEY = re.compile(
    r"(password|passwd|pwd|secret|token|dsn|connection|credential|api_key|private_key)", re.I
)
_SECRET_VALUE = re.compile(r"(?:^|;)\s*(pwd|password)\s*=", re.I)
SECRET_REFERENCE = re.compile(r"^(env|file):\S+$")


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    near = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
    return f"did you mean '{near[0]}'?" if near else ""


class _Checker:
    def __init__(self, plan: Plan, data: dict[str, Any], source: SourceMap) -> None:
        self.plan = plan
        self.data = data
        self.source = source
        self.problems: list[PlanProblem] = []

    def error(self, path: Path, message: str, hint: str = "", *, key: bool = False) -> None:
        self.problems.append(self.source.problem(path, message, hint, key=key))

    def warn(self, path: Path, message: str, hint: str = "") -> None:
        self.problems.append(self.source.problem(path, message, hint, severity="warning"))

    def run(self) -> list[PlanProblem]:
        self.window()
        self.unique_ids()
        duplicated = bool(self.problems)
        self.people()
        self.steps()
        if not duplicated:  # with duplicate ids a "cycle" could be two different steps
            self.cycles()
        self.gates()
        self.probes()
        self.secrets(self.data, ())
        if not any(p.severity == "error" for p in self.problems):
            self.fit()
        return self.problems

    def window(self) -> None:
        window = self.plan.cutover.window
        if window.end <= window.start:
            self.error(
                ("cutover", "window", "end"),
                "the window ends before it starts",
                f"end must be after {window.start:%Y-%m-%d %H:%M}",
            )
        prepare = self.plan.cutover.prepare_from
        if prepare is not None and prepare > window.start:
            self.error(
                ("cutover", "prepare_from"),
                "preparation starts after the window opens",
                f"prepare_from must be at or before {window.start:%Y-%m-%d %H:%M}",
            )

    def unique_ids(self) -> None:
        sections: dict[str, list[Any]] = {
            "people": self.plan.people,
            "phases": self.plan.phases,
            "steps": self.plan.steps,
            "flows": self.plan.flows,
            "reconcile": self.plan.reconcile,
            "logs": self.plan.logs,
        }
        for section, items in sections.items():
            first: dict[str, int] = {}
            for index, item in enumerate(items):
                if item.id in first:
                    line = self.source.locate((section, first[item.id], "id"))[0]
                    self.error(
                        (section, index, "id"),
                        f"duplicate id '{item.id}'",
                        f"already used on line {line}; ids must be unique",
                    )
                else:
                    first[item.id] = index
        for s_index, step in enumerate(self.plan.steps):
            seen: set[str] = set()
            for g_index, gate in enumerate(step.gates):
                assert gate.id is not None
                if gate.id in seen:
                    self.error(
                        ("steps", s_index, "gates", g_index),
                        f"duplicate gate id '{gate.id}'",
                        "give each gate of a step its own `id`",
                    )
                seen.add(gate.id)
        if self.plan.dns is not None:
            names: dict[str, int] = {}
            for r_index, record in enumerate(self.plan.dns.records):
                for name in record.expanded():
                    key = f"{name}/{record.type}"
                    if key in names and names[key] != r_index:
                        self.error(
                            ("dns", "records", r_index),
                            f"record {name} {record.type} is listed twice",
                            f"also in records[{names[key]}]",
                        )
                        break
                    names[key] = r_index

    def people(self) -> None:
        ids = {p.id for p in self.plan.people}
        for index, person in enumerate(self.plan.people):
            if person.backup is not None and person.backup not in ids:
                self.error(
                    ("people", index, "backup"),
                    f"unknown person '{person.backup}'",
                    _did_you_mean(person.backup, ids) or "name a person id from `people`",
                )

    def steps(self) -> None:
        people = {p.id for p in self.plan.people}
        roles = self.plan.roles()
        phases = {p.id for p in self.plan.phases}
        steps = {s.id for s in self.plan.steps}
        window = self.plan.cutover.window
        for index, step in enumerate(self.plan.steps):
            here = ("steps", index)
            if step.phase not in phases:
                self.error(
                    (*here, "phase"),
                    f"unknown phase '{step.phase}'",
                    _did_you_mean(step.phase, phases) or f"one of: {', '.join(sorted(phases))}",
                )
            if step.owner not in people and step.owner not in roles:
                hint = (
                    _did_you_mean(step.owner, people | roles)
                    or "a person id or a role someone holds"
                )
                self.error(
                    (*here, "owner"), f"owner '{step.owner}' is neither a person nor a role", hint
                )
            for d_index, dep in enumerate(step.depends_on):
                if dep == step.id:
                    self.error(
                        (*here, "depends_on", d_index),
                        "a step cannot depend on itself",
                        "remove it",
                    )
                elif dep not in steps:
                    self.error(
                        (*here, "depends_on", d_index),
                        f"unknown step '{dep}'",
                        _did_you_mean(dep, steps) or "name a step id",
                    )
            if step.signoff is not None:
                for r_index, role in enumerate(step.signoff.roles):
                    if role not in roles:
                        self.error(
                            (*here, "signoff", "roles", r_index),
                            f"no one holds the role '{role}'",
                            _did_you_mean(role, roles)
                            or f"roles in this plan: {', '.join(sorted(roles))}",
                        )
                eligible = {
                    p.id for p in self.plan.people if set(p.roles) & set(step.signoff.roles)
                }
                if len(eligible) < step.signoff.count and set(step.signoff.roles) <= roles:
                    self.error(
                        (*here, "signoff", "count"),
                        f"needs {step.signoff.count} distinct signers but only {len(eligible)} "
                        "people hold those roles",
                        "lower `count` or add people with those roles",
                    )
            origin = self.plan.cutover.origin
            if step.not_before is not None and not (origin <= step.not_before <= window.end):
                self.warn(
                    (*here, "not_before"),
                    "not_before lies outside the cutover",
                    f"preparation and window run {origin:%Y-%m-%d %H:%M} to "
                    f"{window.end:%Y-%m-%d %H:%M}; set cutover.prepare_from for earlier steps",
                )

    def cycles(self) -> None:
        graph = {s.id: [d for d in s.depends_on if d != s.id] for s in self.plan.steps}
        index_of = {s.id: i for i, s in enumerate(self.plan.steps)}
        state: dict[str, int] = {}  # 1 = on the stack, 2 = finished
        reported: set[frozenset[str]] = set()

        def visit(node: str, stack: list[str]) -> None:
            state[node] = 1
            stack.append(node)
            for dep in graph.get(node, []):
                if dep not in graph:
                    continue
                if state.get(dep) == 1:
                    cycle = stack[stack.index(dep) :]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        # each step depends on the next; start at the earliest in the file
                        at = cycle.index(min(cycle, key=lambda s: index_of[s]))
                        ring = cycle[at:] + cycle[:at]
                        nxt = ring[1] if len(ring) > 1 else ring[0]
                        first = self.plan.steps[index_of[ring[0]]]
                        self.error(
                            ("steps", index_of[ring[0]], "depends_on", first.depends_on.index(nxt)),
                            f"dependency cycle: {' → '.join([*ring, ring[0]])}",
                            "each depends on the next; remove one of these dependencies",
                        )
                elif state.get(dep) is None:
                    visit(dep, stack)
            stack.pop()
            state[node] = 2

        for step in self.plan.steps:
            if step.id not in state:
                visit(step.id, [])

    def gates(self) -> None:
        dns = self.plan.dns
        record_names = {n for r in dns.records for n in r.expanded()} if dns else set()
        plain_names = {r.name.rstrip(".").lower() for r in dns.records if r.name} if dns else set()
        flows = {f.id: f for f in self.plan.flows}
        reconciliations = {r.id for r in self.plan.reconcile}
        for s_index, step in enumerate(self.plan.steps):
            for g_index, gate in enumerate(step.gates):
                here = ("steps", s_index, "gates", g_index)
                if gate.check in ("dns_propagated", "ttl_lowered", "authority_new"):
                    if dns is None or not dns.records:
                        self.error(
                            (*here, "check"),
                            f"gate '{gate.check}' needs records in the `dns:` section",
                            "add `dns: records:` or remove the gate",
                        )
                        continue
                    for r_index, name in enumerate(gate.records or []):
                        if name.rstrip(".").lower() not in record_names:
                            self.error(
                                (*here, "records", r_index),
                                f"unknown DNS record '{name}'",
                                _did_you_mean(name, plain_names)
                                or "name a record from `dns.records`",
                            )
                if gate.flow is not None and gate.flow not in flows:
                    self.error(
                        (*here, "flow"),
                        f"unknown flow '{gate.flow}'",
                        _did_you_mean(gate.flow, flows) or "name a flow id from `flows`",
                    )
                if gate.check == "probe_ok" and gate.flow in flows and gate.probe is not None:
                    flow = flows[gate.flow]
                    probes = {p.id for p in (flow.old, flow.new) if p is not None and p.id}
                    if gate.probe not in probes:
                        known = ", ".join(sorted(probes)) or "none (give probes an id)"
                        self.error(
                            (*here, "probe"),
                            f"flow '{gate.flow}' has no probe '{gate.probe}'",
                            f"probe ids there: {known}",
                        )
                if (
                    gate.check == "sites_on_new"
                    and gate.flow in flows
                    and not flows[gate.flow].sites
                ):
                    self.error(
                        (*here, "flow"),
                        f"flow '{gate.flow}' does not report sites",
                        "set `sites: true` on the flow, or use flow_healthy",
                    )
                if gate.reconciliation is not None and gate.reconciliation not in reconciliations:
                    self.error(
                        (*here, "reconciliation"),
                        f"unknown reconciliation '{gate.reconciliation}'",
                        _did_you_mean(gate.reconciliation, reconciliations)
                        or "name an id from `reconcile`",
                    )

    def probes(self) -> None:
        """Each probe's parameters must fit its kind."""
        from ..heartbeats.parameters import ProbeConfigError, check_parameters

        places: list[tuple[Path, Any]] = []
        for index, flow in enumerate(self.plan.flows):
            places += [(("flows", index, side), getattr(flow, side)) for side in ("old", "new")]
        for index, rec in enumerate(self.plan.reconcile):
            places += [(("reconcile", index, side), getattr(rec, side)) for side in ("old", "new")]
        for path, probe in places:
            if probe is None:
                continue
            params = {
                k: v for k, v in probe.model_dump(exclude={"kind", "id"}).items() if v is not None
            }
            try:
                check_parameters(probe.kind, params)
            except ProbeConfigError as exc:
                where = (*path, exc.field) if exc.field else path
                message, _, hint = str(exc).partition(" (")
                self.error(where, message, hint.rstrip(")"), key=exc.field is not None)

    def secrets(self, node: Any, path: Path) -> None:
        """Connection strings and passwords must be references, never values."""
        if isinstance(node, dict):
            for key, value in node.items():
                child = (*path, key)
                if (
                    _SECRET_KEY.search(str(key))
                    and isinstance(value, str | int | float)
                    and not isinstance(value, bool)
                    and not SECRET_REFERENCE.match(str(value))
                ):
                    self.error(
                        child,
                        f"'{key}' looks like a secret written into the plan",
                        "reference it as env:VARIABLE or file:/path instead",
                    )
                else:
                    self.secrets(value, child)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self.secrets(value, (*path, index))
        elif isinstance(node, str) and _SECRET_VALUE.search(node):
            self.error(
                path,
                "this text carries a password (PWD=/Password=)",
                "move the connection string to env:VARIABLE or file:/path",
            )

    def fit(self) -> None:
        schedule = planned(self.plan)
        end = self.plan.cutover.window.end
        if schedule.end > end:
            over = format_duration(schedule.end - end)
            last = schedule.critical_path()[-1]
            index = [s.id for s in self.plan.steps].index(last)
            self.warn(
                ("steps", index),
                f"the plan does not fit its window: it ends {over} late",
                f"planned end {schedule.end.astimezone(self.plan.zone):%a %H:%M} vs window end "
                f"{end.astimezone(self.plan.zone):%a %H:%M}; shorten the critical path or widen "
                "the window",
            )


def check(plan: Plan, data: dict[str, Any], source: SourceMap) -> list[PlanProblem]:
    """Every cross-section problem (errors and warnings) in the plan."""
    return _Checker(plan, data, source).run()
