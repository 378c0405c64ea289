"""What may happen to a step now, and why not. Pure functions of the fold; no I/O.

A refusal is either overridable (dependencies, not_before, gates, missing sign-offs, the point of no
return: the lead may override with a reason, marked forever) or absolute (unknown people, wrong
roles, self-approval, impossible transitions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..plan.model import Person, SignOff, Step
from ..plan.timeparse import format_duration
from ..untrusted import quoted
from .fold import FINISHED, CutoverState, StepState

LEAD_ROLE = "lead"


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str  # a stable code: "dependency", "not_before", "gate", "signoff", "role", ...
    message: str
    overridable: bool = False

    def __str__(self) -> str:
        return self.message


def person_or_refusal(state: CutoverState, person_id: str) -> Person | Refusal:
    try:
        return state.plan.person(person_id)
    except KeyError:
        known = ", ".join(p.id for p in state.plan.people)
        return Refusal(
            "person", f"{quoted(person_id)} is not a person in this plan (people: {known})"
        )


def is_lead(person: Person) -> bool:
    return LEAD_ROLE in person.roles


def may_drive(step: Step, person: Person) -> bool:
    """The owner (by id or role) or a lead may start, finish, skip, reopen or roll back a step."""
    return person.id == step.owner or step.owner in person.roles or is_lead(person)


def _local(state: CutoverState, when: datetime) -> str:
    return when.astimezone(state.plan.zone).strftime("%a %H:%M %Z")


def start_blockers(state: CutoverState, step: Step, now: datetime) -> list[Refusal]:
    """Why the step cannot start yet (empty when it can)."""
    out: list[Refusal] = []
    for dep in step.depends_on:
        dep_state = state.steps[dep]
        if dep_state.status not in FINISHED:
            out.append(
                Refusal(
                    "dependency", f"waits for '{dep}' ({dep_state.status.replace('_', ' ')})", True
                )
            )
    if step.not_before is not None and now < step.not_before:
        out.append(
            Refusal(
                "not_before",
                f"not before {_local(state, step.not_before)} "
                f"({format_duration(step.not_before - now)} from now)",
                True,
            )
        )
    return out


def completion_blockers(state: CutoverState, step: Step) -> list[Refusal]:
    """Unmet gates and missing sign-offs (empty when the step may be completed)."""
    out: list[Refusal] = []
    current = state.steps[step.id]
    for gate in step.gates:
        assert gate.id is not None
        gate_state = current.gates.get(gate.id)
        if gate_state is None or not gate_state.satisfied:
            why = (
                "no evidence yet"
                if gate_state is None or gate_state.ok is None
                else (gate_state.detail or "not met")
            )
            out.append(Refusal("gate", f"gate '{gate.id}' ({gate.check}) not met: {why}", True))
    missing = missing_signoffs(state, step, current)
    if missing:
        out.append(Refusal("signoff", missing, True))
    return out


def signoff_rule(spec: SignOff) -> str:
    """A sign-off requirement in words, the same on every screen: `2 distinct sign-offs, one
    by each of lead and client-observer` or `2 distinct sign-offs by lead or dba`."""
    count = f"{spec.count} distinct sign-off{'s' if spec.count != 1 else ''}"
    if len(spec.roles) == 1:
        return f"{count} by {spec.roles[0]}"
    if spec.each_role:
        return f"{count}, one by each of {', '.join(spec.roles[:-1])} and {spec.roles[-1]}"
    return f"{count} by {', '.join(spec.roles[:-1])} or {spec.roles[-1]}"


def missing_signoffs(state: CutoverState, step: Step, current: StepState) -> str:
    """Empty when the sign-off requirement is met, else what is still missing."""
    spec = step.signoff
    if spec is None:
        return ""
    signers = {s.person for s in current.signoffs}
    if len(signers) < spec.count:
        have = ", ".join(sorted(signers)) or "none"
        return f"needs {signoff_rule(spec)}; has {len(signers)} ({have})"
    if current.started_by is not None and signers <= {current.started_by}:
        return f"{current.started_by} did this step and cannot be its only signer"
    if spec.each_role:
        uncovered = [r for r in spec.roles if r not in {s.role for s in current.signoffs}]
        if uncovered:
            roles, missing = ", ".join(spec.roles), ", ".join(uncovered)
            return f"needs a sign-off by each of {roles}; missing {missing}"
    return ""


def transition_refusal(current: StepState, action: str) -> Refusal | None:
    allowed = {
        "start": {"pending"},
        "complete": {"in_progress"},
        "fail": {"in_progress"},
        "skip": {"pending", "in_progress"},
        "reopen": {"done", "failed", "skipped", "rolled_back"},
        "rollback": {"in_progress", "done", "failed"},
        "signoff": {"in_progress"},
    }[action]
    if current.status in allowed:
        return None
    status = current.status.replace("_", " ")
    hint = {
        "start": "re-open it first" if current.status != "in_progress" else "it is already running",
        "complete": "start it first" if current.status == "pending" else "re-open it first",
        "signoff": "sign-offs are given while the step is in progress",
    }.get(action, f"allowed from: {', '.join(sorted(allowed))}")
    return Refusal("transition", f"step '{current.id}' is {status}; cannot {action} ({hint})")


def signoff_refusals(
    state: CutoverState, step: Step, person: Person, role: str | None
) -> tuple[list[Refusal], str]:
    """Absolute refusals for a sign-off, and the role it will be recorded under."""
    current = state.steps[step.id]
    spec = step.signoff
    if spec is None:
        return [Refusal("signoff", f"step '{step.id}' requires no sign-off")], ""
    eligible = [r for r in person.roles if r in spec.roles]
    if role is not None:
        if role not in person.roles:
            return [Refusal("role", f"{person.id} does not hold the role {quoted(role)}")], ""
        if role not in spec.roles:
            return [
                Refusal(
                    "role", f"role '{role}' cannot sign '{step.id}' (needs {'/'.join(spec.roles)})"
                )
            ], ""
        eligible = [role]
    if not eligible:
        return [
            Refusal(
                "role",
                f"{person.id} ({', '.join(person.roles)}) cannot sign '{step.id}': "
                f"needs {'/'.join(spec.roles)}",
            )
        ], ""
    if spec.each_role and role is None:
        covered = {s.role for s in current.signoffs}
        uncovered = [r for r in spec.roles if r not in covered]
        fresh = [r for r in eligible if r in uncovered]
        slots_left = spec.count - len({s.person for s in current.signoffs})
        if fresh:
            eligible = fresh
        elif uncovered and slots_left <= len(uncovered):
            return [
                Refusal(
                    "role",
                    f"'{step.id}' still needs {', '.join(uncovered)}; "
                    f"{person.id} ({', '.join(person.roles)}) cannot fill that",
                )
            ], ""
    if any(s.person == person.id for s in current.signoffs):
        return [
            Refusal(
                "duplicate",
                f"{person.id} has already signed '{step.id}'; "
                "sign-offs must come from distinct people",
            )
        ], ""
    if spec.count == 1 and current.started_by == person.id:
        return [
            Refusal(
                "self_approval",
                f"self-approval refused: {person.id} did '{step.id}'; "
                "someone else must sign it off",
            )
        ], ""
    return [], eligible[0]


def ponr_refusal(state: CutoverState) -> Refusal | None:
    if state.point_of_no_return_at is None:
        return None
    return Refusal(
        "point_of_no_return",
        f"the point of no return was passed at {_local(state, state.point_of_no_return_at)}",
        True,
    )
