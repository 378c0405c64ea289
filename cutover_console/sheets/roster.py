"""Who and where: owners become people, teams become roles, streams become phases.

A name seen once is one person (`Lena Ortiz` → `lena-ortiz`; an e-mail address gives the id and
the contact). What a spreadsheet cannot say is written as a placeholder that `cutover check`
lists: each person's contact, a member for a team nobody is named in, and who leads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..plan.placeholders import placeholder
from .ids import ordered_step, slug, unique
from .problems import shown
from .values import raw_text as _raw_text


def roster(
    steps: list[dict[str, Any]],
    owner_cells: list[str],
    people: list[dict[str, Any]],
    phases: list[dict[str, Any]],
    needs_lead: bool,
    warn: Callable[[str, str, str], None],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """People and phases for the steps (each step's `owner`, `_team` and `phase` resolved in
    place). `people`/`phases` are those already known (an exported plan's sheets)."""
    person_ids = {p.get("id") for p in people}
    roles = {r for p in people for r in p.get("roles", [])}
    phase_ids = {p.get("id") for p in phases}
    by_name: dict[str, str] = {}
    taken = {str(i) for i in person_ids}
    made: dict[str, dict[str, Any]] = {}
    team_roles: dict[str, str] = {}
    phase_of: dict[str, str] = {}
    for position, (step, where) in enumerate(zip(steps, owner_cells, strict=False)):
        team = step.pop("_team", None)
        role = None
        if team is not None:
            text = _raw_text(team)
            role = text if text in roles else team_roles.get(text)
            if role is None:
                role = slug(text) or "team"
                team_roles[text] = role
        owners = step.pop("owner")
        owner_id = None
        if owners is not None:
            names = [n.strip() for n in re.split(r"[,;]", _raw_text(owners)) if n.strip()]
            names = [re.sub(r"\s*\[[^\]]*\]$", "", n) for n in names]  # Alice[50%]
            for index, name in enumerate(names):
                if name in person_ids or name in roles:
                    pid = name
                elif name in by_name:
                    pid = by_name[name]
                else:
                    local = name.split("@")[0] if "@" in name else name
                    pid = unique(slug(local) or "person", taken)
                    by_name[name] = pid
                    made[pid] = {
                        "id": pid,
                        "name": local if "@" in name else name,
                        "roles": [],
                        "contact": name if "@" in name else placeholder("phone or e-mail"),
                    }
                if pid in made and role and role not in made[pid]["roles"]:
                    made[pid]["roles"].append(role)
                if index == 0:
                    owner_id = pid
                else:
                    warn(
                        where,
                        f"a step has one owner: {shown(name, 30)} is not kept as one",
                        "the first name is the owner; name the others in the instructions",
                    )
        step["owner"] = owner_id or role or "lead"
        phase = step.pop("phase")
        if phase is None:
            step["phase"] = "cutover"
            phase_of.setdefault("cutover", "Cutover")
        elif phase in phase_ids:
            step["phase"] = phase
        else:
            pid = slug(phase) or "phase"
            step["phase"] = pid
            phase_of.setdefault(pid, phase)
        steps[position] = ordered_step(step)
    for pid, title in phase_of.items():
        if pid not in phase_ids:
            phases.append({"id": pid, "title": title})
    for person in made.values():
        person["roles"] = person["roles"] or ["owner"]
        people.append(person)
    held = {r for p in people for r in p.get("roles", [])}
    for team, role in team_roles.items():
        if role not in held:
            pid = unique(f"{role}-member", taken)
            people.append(
                {
                    "id": pid,
                    "name": placeholder(f"who is in the team {team}"),
                    "roles": [role],
                    "contact": placeholder("phone or e-mail"),
                }
            )
    if needs_lead and "lead" not in held:
        lead_id = "lead" if "lead" not in taken else unique("cutover-lead", taken)
        people.insert(
            0,
            {
                "id": lead_id,
                "name": placeholder("who leads the cutover"),
                "roles": ["lead"],
                "contact": placeholder("phone or e-mail"),
            },
        )
    return people, phases
