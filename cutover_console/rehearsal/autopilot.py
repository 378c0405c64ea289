"""An autopilot lead for a live (or rehearsal-world) cutover: it drives every step through the
real rules, with the real engines' evidence, on the session's clock.

It does what a careful lead does, and nothing the rules would not let a person do:
- starts a step once nothing blocks it (dependencies, `not_before`), as the step's owner;
- runs a step's automated action once the step's gates hold (the gate is the pre-condition the
  lead checks before pressing the button), after a preview that goes into the journal with it;
- completes a step when its planned duration has passed and its gates hold, after sign-offs by
  distinct eligible people (the second person of a two-person sign-off is another plan person);
- never overrides a gate: a gate that never holds leaves the step open, and the run ends, past
  its deadline, as a failure that names what blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..clock import real_seconds
from ..plan.model import Step
from ..runbook.actions import ActionRefused, Cutover
from ..runbook.autopilot import choose_signers, owner_of
from ..runbook.fold import FINISHED, CutoverState
from ..runbook.rules import completion_blockers, start_blockers
from ..runbook.step_action import execute, prepare
from ..service.lead import LeadSession


@dataclass
class AutopilotResult:
    complete: bool
    blocked: dict[str, str] = field(default_factory=dict)  # step -> why, when not complete
    actions: list[dict[str, Any]] = field(default_factory=list)


class Autopilot:
    def __init__(self, session: LeadSession, *, deadline: datetime | None = None) -> None:
        self.session = session
        self.clock = session.clock
        plan = session.state.plan
        self.deadline = deadline or plan.cutover.window.end + timedelta(hours=2)
        self._action_attempts: dict[str, int] = {}
        self._action_running: set[str] = set()
        self.log: list[str] = []  # what it did, for the headless summary

    def _say(self, text: str) -> None:
        local = self.clock.now().astimezone(self.session.state.plan.zone)
        self.log.append(f"{local:%H:%M} {text}")

    async def run(self, stop: asyncio.Event, *, tick: float = 0.1) -> AutopilotResult:
        while not stop.is_set():
            state = self.session.state
            if all(s.status in FINISHED for s in state.steps.values()):
                return AutopilotResult(True)
            if self.clock.now() > self.deadline:
                return AutopilotResult(False, self.blockers())
            for step_id in state.schedule().order:
                try:
                    await self._advance(state.plan.step(step_id))
                except ActionRefused as refused:  # the state moved between the look and the act
                    self._say(f"{step_id}: {refused}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(tick, real_seconds(self.clock, 30)))
        return AutopilotResult(False, self.blockers())

    def blockers(self) -> dict[str, str]:
        state, now = self.session.state, self.clock.now()
        out = {}
        for step_id, current in state.steps.items():
            if current.status in FINISHED:
                continue
            step = state.plan.step(step_id)
            refusals = (
                start_blockers(state, step, now)
                if current.status == "pending"
                else completion_blockers(state, step)
            )
            out[step_id] = "; ".join(r.message for r in refusals) or current.status
        return out

    async def _advance(self, step: Step) -> None:
        session, state = self.session, self.session.state
        current = state.steps[step.id]
        now = self.clock.now()
        doer = owner_of(state.plan, step).id
        if current.status == "pending":
            if not start_blockers(state, step, now):
                await session.act(lambda c: c.start(step.id, doer))
                self._say(f"{doer} started {step.id}")
            return
        if current.status != "in_progress":
            return
        blockers = completion_blockers(state, step)
        gates_hold = not any(b.rule == "gate" for b in blockers)
        if step.action is not None and gates_hold and not _action_succeeded(state, step.id):
            await self._run_action(step, doer)
            return
        if current.started_at is None or now - current.started_at < step.duration:
            return
        if not gates_hold or (step.action is not None and not _action_succeeded(state, step.id)):
            return
        if any(b.rule == "signoff" for b in blockers):
            for person, role in choose_signers(state.plan, step, current.started_by or doer):
                if person not in {s.person for s in current.signoffs}:
                    await session.act(
                        lambda c, p=person, r=role: c.signoff(step.id, p, role=r)  # type: ignore[misc]
                    )
                    self._say(f"{person} signed off {step.id} as {role}")
            if completion_blockers(self.session.state, step):
                return
        try:
            await session.act(lambda c: c.complete(step.id, doer))
            self._say(f"{doer} completed {step.id}")
        except ActionRefused as refused:  # evidence changed between the look and the act
            self._say(f"{step.id} not completed yet: {refused}")

    async def _run_action(self, step: Step, by: str) -> None:
        action = step.action
        assert action is not None
        tries = self._action_attempts.get(step.id, 0)
        if tries >= 3 or step.id in self._action_running:
            return
        self._action_attempts[step.id] = tries + 1
        self._action_running.add(step.id)
        try:
            await self.session.act(lambda c: c.check_action(step.id, by))
            result = await asyncio.to_thread(_preview_and_run, action, self.session.state)
            await self.session.act(lambda c: _record(c, step.id, by, result))
            self._say(f"{by} ran {action.kind} for {step.id}: {result.get('status', 'done')}")
        finally:
            self._action_running.discard(step.id)


def _record(cutover: Cutover, step_id: str, by: str, result: dict[str, Any]) -> None:
    cutover.record_action(step_id, by, result)


def _action_succeeded(state: CutoverState, step_id: str) -> bool:
    return any(a.get("exit") == 0 for a in state.steps[step_id].actions)


def _preview_and_run(action: Any, state: CutoverState) -> dict[str, Any]:
    """The preview the lead would read, then the action; a preview that fails is the result."""
    try:
        prepared = prepare(action, state)
    except Exception as exc:  # no zone, no credentials, nothing to roll back
        return {
            "kind": action.kind,
            "status": "failed",
            "exit": 1,
            "error": f"preview failed: {type(exc).__name__}: {exc}"[:500],
        }
    return execute(prepared)
