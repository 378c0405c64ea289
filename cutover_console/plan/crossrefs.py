"""Checks that span sections: ids, references, cycles, secrets, and fitting the window."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from typing import Any

from .model import Plan
from .placeholders import find_placeholders
from .probe_parameters import ProbeConfigError, check_parameters
from .problems import Path, PlanProblem, clip
from .schedule import planned
from .timeparse import format_duration
from .yaml_source import SourceMap

_SECRET_KEY = re.compile(
    r"(password|passwd|pwd|secret|token|dsn|connection|credential|api_key|private_key)", re.I
)
_SECRET_VALUE = re.compile(r"(?:^|;)\s*(pwd|password)\s*=", re.I)
SECRET_REFERENCE = re.compile(r"^(env|file):\S+$")


# difflib compares a name with every candidate (~8 µs each for ids): a plan with thousands of
# unknown references among thousands of steps must not turn hints into minutes. Past this many
# comparisons in one check, hints fall back to their generic text.
_SUGGESTION_BUDGET = 60_000
MAX_CYCLES = 20  # cycles reported (and searched for) in one check; each is fixed on its own
_RING_SHOWN = 8  # steps named in one cycle's message


def _listing(names: Iterable[str], limit: int = 12) -> str:
    """`a, b, c` — sorted, and cut short with a count when a plan holds thousands."""
    ordered = sorted(names)
    shown = ", ".join(clip(n) for n in ordered[:limit])
    return shown + (f" and {len(ordered) - limit} more" if len(ordered) > limit else "")


def _ring(ring: list[str]) -> str:
    if len(ring) > _RING_SHOWN:
        hidden = len(ring) - _RING_SHOWN + 2
        ring = [*ring[: _RING_SHOWN - 2], f"({hidden} more)", *ring[-2:]]
    return " → ".join([*ring, ring[0]])


class _Checker:
    def __init__(self, plan: Plan, data: dict[str, Any], source: SourceMap) -> None:
        self.plan = plan
        self.data = data
        self.source = source
        self.problems: list[PlanProblem] = []
        self.budget = _SUGGESTION_BUDGET

    def did_you_mean(self, name: str, candidates: Collection[str]) -> str:
        if len(name) > 64 or len(candidates) > self.budget:
            return ""
        self.budget -= len(candidates)
        near = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
        return f"did you mean '{near[0]}'?" if near else ""

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
        for path, text in find_placeholders(self.data):
            self.warn(path, f"placeholder left to fill in: {clip(text)}", "replace it")
        steps = self.plan.steps
        if self.plan.comms is not None or any(s.comms or s.kind == "comms" for s in steps):
            from .comms_checks import check_comms

            self.problems += check_comms(self.plan, self.source, self.error, self.did_you_mean)
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
                    self.did_you_mean(person.backup, ids) or "name a person id from `people`",
                )

    def steps(self) -> None:
        people = {p.id for p in self.plan.people}
        roles = self.plan.roles()
        phases = {p.id for p in self.plan.phases}
        steps = {s.id for s in self.plan.steps}
        owners = people | roles
        phase_list, role_list = _listing(phases), _listing(roles)
        holders: dict[str, dict[str, None]] = {}  # role → its people, once each, in file order
        for person in self.plan.people:
            for role in person.roles:
                holders.setdefault(role, {})[person.id] = None
        window = self.plan.cutover.window
        for index, step in enumerate(self.plan.steps):
            here = ("steps", index)
            if step.phase not in phases:
                self.error(
                    (*here, "phase"),
                    f"unknown phase '{step.phase}'",
                    self.did_you_mean(step.phase, phases) or f"one of: {phase_list}",
                )
            if step.owner not in people and step.owner not in roles:
                hint = (
                    self.did_you_mean(step.owner, owners) or "a person id or a role someone holds"
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
                        self.did_you_mean(dep, steps) or "name a step id",
                    )
            if step.signoff is not None:
                for r_index, role in enumerate(step.signoff.roles):
                    if role not in roles:
                        self.error(
                            (*here, "signoff", "roles", r_index),
                            f"no one holds the role '{role}'",
                            self.did_you_mean(role, roles) or f"roles in this plan: {role_list}",
                        )
                eligible = _signers(holders, step.signoff.roles, step.signoff.count)
                if eligible < step.signoff.count and set(step.signoff.roles) <= roles:
                    self.error(
                        (*here, "signoff", "count"),
                        f"needs {step.signoff.count} distinct signers but only {eligible} "
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
        """Depth-first from each step in file order, with an explicit stack: a 10,000-step chain
        is 10,000 deep, past Python's recursion limit."""
        graph = {s.id: [d for d in s.depends_on if d != s.id] for s in self.plan.steps}
        index_of = {s.id: i for i, s in enumerate(self.plan.steps)}
        state: dict[str, int] = {}  # 1 = on the path, 2 = finished
        place: dict[str, int] = {}  # a step on the path → its position there
        reported: set[frozenset[str]] = set()
        found = 0
        for root in self.plan.steps:
            if root.id in state:
                continue
            path, todo = [root.id], [iter(graph[root.id])]
            state[root.id], place[root.id] = 1, 0
            while todo:
                dep = next(todo[-1], None)
                if dep is None:
                    done = path.pop()
                    todo.pop()
                    state[done] = 2
                    del place[done]
                elif dep not in graph:
                    continue
                elif state.get(dep) == 1:
                    self._cycle(path[place[dep] :], index_of, reported)
                    found += 1
                    if found >= MAX_CYCLES:  # each costs the path's length; enough to act on
                        return
                elif dep not in state:
                    state[dep], place[dep] = 1, len(path)
                    path.append(dep)
                    todo.append(iter(graph[dep]))

    def _cycle(
        self, cycle: list[str], index_of: dict[str, int], reported: set[frozenset[str]]
    ) -> None:
        key = frozenset(cycle)
        if key in reported:
            return
        reported.add(key)
        # each step depends on the next; start at the earliest in the file
        at = cycle.index(min(cycle, key=lambda s: index_of[s]))
        ring = cycle[at:] + cycle[:at]
        nxt = ring[1] if len(ring) > 1 else ring[0]
        first = self.plan.steps[index_of[ring[0]]]
        self.error(
            ("steps", index_of[ring[0]], "depends_on", first.depends_on.index(nxt)),
            f"dependency cycle: {_ring(ring)}",
            "each depends on the next; remove one of these dependencies",
        )

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
                                f"unknown DNS record '{clip(name)}'",
                                self.did_you_mean(name, plain_names)
                                or "name a record from `dns.records`",
                            )
                if gate.check == "dns_vantage" and (dns is None or dns.vantage is None):
                    self.error(
                        (*here, "check"),
                        "gate 'dns_vantage' needs `dns: vantage:` (Globalping or SSH hosts)",
                        "add `dns: vantage:` or remove the gate",
                    )
                if gate.flow is not None and gate.flow not in flows:
                    self.error(
                        (*here, "flow"),
                        f"unknown flow '{gate.flow}'",
                        self.did_you_mean(gate.flow, flows) or "name a flow id from `flows`",
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
                        self.did_you_mean(gate.reconciliation, reconciliations)
                        or "name an id from `reconcile`",
                    )

    def probes(self) -> None:
        """Each probe's parameters must fit its kind."""
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
                        f"'{clip(str(key))}' looks like a secret written into the plan",
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


def _signers(holders: dict[str, dict[str, None]], roles: list[str], enough: int) -> int:
    """Distinct people holding any of `roles`, counted only up to `enough` (a sign-off needs
    at most 10): one role held by thousands must not be walked once per step."""
    found: set[str] = set()
    for role in dict.fromkeys(roles):
        for person in holders.get(role, {}):
            found.add(person)
            if len(found) >= enough:
                return len(found)
    return len(found)


def check(plan: Plan, data: dict[str, Any], source: SourceMap) -> list[PlanProblem]:
    """Every cross-section problem (errors and warnings) in the plan."""
    return _Checker(plan, data, source).run()
