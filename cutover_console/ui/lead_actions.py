"""The lead's actions: start, complete, fail, skip, re-open, roll back, sign off, note,
override a gate, run a step's automated action. Each is a named request to the session's writer
(the journal service, or this process's writer) and is shown only once it is journaled; a refusal
a lead may override asks for the reason first, then asks again with the override."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input

from ..journal import Event
from ..runbook import ActionRefused
from ..runbook.command_action import preview
from ..runbook.fold import CutoverState
from ..runbook.rules import (
    Refusal,
    completion_blockers,
    may_drive,
    signoff_rule,
    start_blockers,
    transition_refusal,
)
from ..runbook.step_action import describe_result, execute, prepare
from ..service.surface import ConsoleSession
from .bindings import WRITE_BINDINGS, keys_of
from .dialogs import ConfirmDialog, Picker, ReasonDialog, TypedConfirmDialog
from .messages import StateChanged
from .signing import sign_here, signs_by_key
from .views import Checklist

if TYPE_CHECKING:  # the mixin is only ever part of LeadApp: type it as the app it is
    _AppBase = App[None]
else:
    _AppBase = object


def completion_refusals(state: CutoverState, step_id: str, by: str) -> list[Refusal]:
    """What `complete` would refuse, without recording anything (read under the state's lock)."""
    step = state.plan.step(step_id)
    refusal = transition_refusal(state.steps[step_id], "complete")
    if refusal is not None:
        return [refusal]
    person = state.plan.person(by)
    if not may_drive(step, person):
        return [Refusal("owner", f"{by} is neither the owner ({step.owner}) nor a lead")]
    return completion_blockers(state, step)


def ponr_consequences(state: CutoverState, step: str) -> str:
    """What completing the point-of-no-return step makes impossible, in words."""
    finished = [s.id for s in state.plan.steps if state.steps[s.id].status in ("done", "failed")]
    phases = [p.id for p in state.plan.phases if p.rollback]
    return (
        f"Completing {step} passes the point of no return. After it:\n"
        "• rolling back any step is refused, for everyone, from the console and the CLI"
        + (f" ({len(finished)} finished so far: {', '.join(finished[:8])}" if finished else "")
        + ("…)" if len(finished) > 8 else ")" if finished else "")
        + "\n• the phases' rollback plans"
        + (f" ({', '.join(phases)})" if phases else "")
        + " can no longer be followed: the old side is no longer the way back\n"
        "• the clock bar shows the point of no return as passed, and the report says when.\n\n"
        "This confirmation is journaled with the completion."
    )


# The states in which each step key applies (the rules refuse the others, with a reason).
STEP_STATES = {
    "start_step": {"pending"},
    "complete_step": {"in_progress"},
    "fail_step": {"in_progress"},
    "skip_step": {"pending", "in_progress"},
    "reopen_step": {"done", "failed", "skipped", "rolled_back"},
    "rollback_step": {"in_progress", "done", "failed"},
    "sign_off": {"in_progress"},
    "override_gate": {"pending", "in_progress"},
    "run_action": {"in_progress"},
}


class LeadActions(_AppBase):
    """The `action_*` methods of the lead's console (mixed into `LeadApp`)."""

    lead_session: ConsoleSession
    operator: str

    if TYPE_CHECKING:

        def say(
            self,
            message: str,
            *,
            title: str = "",
            severity: Any = "information",
            timeout: float | None = None,
        ) -> None: ...

    def step_action_applies(self, action: str, step_id: str | None = None) -> bool:
        """Whether `action` can apply to the step in focus (the footer shows only those)."""
        allowed = STEP_STATES.get(action)
        if allowed is None:
            return True
        step_id = step_id or self._focused_step()
        if step_id is None:
            return False
        state = self.lead_session.state
        step, current = state.plan.step(step_id), state.steps[step_id]
        if current.status not in allowed:
            return False
        if action == "sign_off":
            signed = {s.person for s in current.signoffs}
            return step.signoff is not None and not {p.id for p in state.plan.people} <= signed
        if action == "run_action":
            return step.action is not None
        if action == "override_gate":
            return any(
                g.id is not None and not (current.gates.get(g.id) and current.gates[g.id].satisfied)
                for g in step.gates
            )
        if action == "rollback_step":
            return state.point_of_no_return_at is None
        return True

    def _focused_step(self) -> str | None:
        checklists = self.query(Checklist)
        return checklists.first().current_step() if checklists else None

    def footer_signature(self) -> tuple[bool, ...]:
        base: tuple[bool, ...] = super().footer_signature()  # type: ignore[misc]  # CutoverApp's
        step = self._focused_step()
        return (*base, *(self.step_action_applies(a, step) for a in STEP_STATES))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if not self.step_action_applies(action):
            return False
        return super().check_action(action, parameters)

    def on_key(self, event: Any) -> None:
        """A step key the footer does not offer still answers, with the reason it cannot
        apply (the rules say why), instead of doing nothing."""
        for binding in WRITE_BINDINGS:
            if (
                isinstance(binding, Binding)
                and binding.action in STEP_STATES
                and event.key in keys_of(self, binding)
                and not self.step_action_applies(binding.action)
                and isinstance(self.screen, Screen)
                and self.screen is self.screen_stack[0]
                and not isinstance(self.focused, Input)
            ):
                event.stop()
                getattr(self, f"action_{binding.action}")()
                return

    def _step(self) -> str | None:
        step = self.query_one(Checklist).current_step()
        if step is None:
            self.say("no step selected", severity="warning")
        return step

    async def _do(
        self,
        label: str,
        op: str,
        args: dict[str, Any],
        *,
        overridable: bool = False,
        confirm_retry: Callable[[], Awaitable[bool]] | None = None,
    ) -> Event | None:
        """Send one named request; show it only once it is journaled."""
        try:
            event = await self.lead_session.request(op, **args)
        except ActionRefused as refused:
            return await self._refused(
                label, op, args, refused.refusals, overridable, confirm_retry
            )
        if event is not None:
            self.post_message(StateChanged([event]))
            self.say(f"{label}: journaled as event {event.seq}", timeout=3)
        return event

    async def _refused(
        self,
        label: str,
        op: str,
        args: dict[str, Any],
        refusals: list[Refusal],
        overridable: bool,
        confirm_retry: Callable[[], Awaitable[bool]] | None,
    ) -> Event | None:
        """Say why the rules refused; when the request takes an `override` and every refusal
        may be overridden, offer the lead the override and send the request again with it."""
        text = "\n".join(f"• {r.message}" for r in refusals)
        if any(r.rule == "service" for r in refusals):
            await self._offer_restart(text)
            return None
        if not (overridable and all(r.overridable for r in refusals)):
            self.say(text, title=f"Refused: {label}", severity="error", timeout=8)
            return None
        if not await self.push_screen_wait(
            ConfirmDialog(
                f"Refused: {label}",
                f"{text}\n\nOverride as lead? The override and its reason are journaled forever.",
                yes="Override…",
            )
        ):
            self.say(f"Cancelled: {label} was not overridden; nothing was recorded", timeout=5)
            return None
        reason = await self.push_screen_wait(
            ReasonDialog(
                "Override", "Why is this overridden?", "the reason, as the report will show it"
            )
        )
        if reason is None:
            self.say(f"Cancelled: {label} was not overridden; nothing was recorded", timeout=5)
            return None
        if confirm_retry is not None and not await confirm_retry():
            return None
        return await self._do(label, op, {**args, "override": reason})

    async def _offer_restart(self, text: str) -> None:
        """The journal service this console writes through is gone: say so, offer to start it
        again (what it acknowledged is in the journal)."""
        restart = getattr(self.lead_session, "restart", None)
        if restart is None or not await self.push_screen_wait(
            ConfirmDialog(
                "The journal service is not running",
                f"{text}\n\nWhat it acknowledged is in the journal. "
                "Restart the service (its engines too)?",
                yes="Restart",
            )
        ):
            self.say(text, title="Journal service down", severity="error", timeout=8)
            return
        try:
            pid = await asyncio.to_thread(restart)
        except Exception as exc:  # the journal is held by another writer, damaged…
            self.say(str(exc), title="Cannot restart", severity="error", timeout=12)
            return
        self.say(f"journal service restarted (pid {pid}); try again", timeout=6)

    @work(exclusive=True, group="act")
    async def action_start_step(self) -> None:
        if (step := self._step()) is None:
            return
        await self._do(
            f"start {step}", "start_step", {"step": step, "by": self.operator}, overridable=True
        )

    @work(exclusive=True, group="act")
    async def action_complete_step(self) -> None:
        if (step := self._step()) is None:
            return
        state = self.lead_session.state
        event: Event | None
        preview = getattr(self, "preview_comms_step", None)  # a kind: comms step (issue 22)
        if state.plan.step(step).kind == "comms" and preview and not await preview(step):
            return
        if state.plan.step(step).point_of_no_return and state.point_of_no_return_at is None:
            event = await self._complete_past_ponr(step)
        else:
            event = await self._do(
                f"complete {step}",
                "complete_step",
                {"step": step, "by": self.operator},
                overridable=True,
            )
        if event is not None and self.lead_session.state.steps[step].status == "done":
            self.focus_next_step(step)

    async def _complete_past_ponr(self, step: str) -> Event | None:
        """The point of no return is passed only after the lead has read what becomes
        impossible and typed the step's id; that text is kept in the completion event. The
        rules are asked first, so a refused completion never asks for it in vain."""
        what = ponr_consequences(self.lead_session.state, step)

        async def confirm() -> bool:
            if await self.push_screen_wait(
                TypedConfirmDialog(f"Point of no return: complete {step}?", what, step)
            ):
                return True
            self.say(f"Cancelled: {step} was not completed; rollback stays possible", timeout=6)
            return False

        completing = {"step": step, "by": self.operator, "confirmed": what}
        label = f"complete {step}"
        with self.lead_session.lock:
            refusals = completion_refusals(self.lead_session.state, step, self.operator)
        if refusals:  # say why and offer the override; nothing is sent before the lead confirms
            return await self._refused(label, "complete_step", completing, refusals, True, confirm)
        if not await confirm():
            return None
        return await self._do(
            label, "complete_step", completing, overridable=True, confirm_retry=confirm
        )

    def focus_next_step(self, after: str) -> None:
        """The cursor moves on to the next step that can be acted on (running, or ready to
        start), so `c` then `s` walks the plan; it stays put when none is left."""
        state = self.lead_session.state
        order = [s.id for s in state.plan.steps]
        now = self.lead_session.clock.now()
        later = order[order.index(after) + 1 :] + order[: order.index(after)]
        running = [s for s in later if state.steps[s].status == "in_progress"]
        ready = [
            s
            for s in later
            if state.steps[s].status == "pending"
            and not start_blockers(state, state.plan.step(s), now)
        ]
        pending = [s for s in later if state.steps[s].status == "pending"]
        target = next(iter(ready or running or pending), None)
        if target is not None:
            self.query_one(Checklist).focus_step(target)

    async def _with_reason(self, verb: str, step: str, op: str) -> None:
        reason = await self.push_screen_wait(
            ReasonDialog(f"{verb.title()} {step}", f"Why {verb} this step?")
        )
        if reason is not None:
            await self._do(
                f"{verb} {step}", op, {"step": step, "by": self.operator, "reason": reason}
            )

    @work(exclusive=True, group="act")
    async def action_fail_step(self) -> None:
        if (step := self._step()) is not None:
            await self._with_reason("fail", step, "fail_step")

    @work(exclusive=True, group="act")
    async def action_skip_step(self) -> None:
        if (step := self._step()) is not None:
            await self._with_reason("skip", step, "skip_step")

    @work(exclusive=True, group="act")
    async def action_reopen_step(self) -> None:
        if (step := self._step()) is not None:
            await self._with_reason("re-open", step, "reopen_step")

    @work(exclusive=True, group="act")
    async def action_rollback_step(self) -> None:
        if (step := self._step()) is not None:
            reason = await self.push_screen_wait(
                ReasonDialog(f"Roll back {step}", "What was rolled back, and why?")
            )
            if reason is not None:
                await self._do(
                    f"roll back {step}",
                    "rollback_step",
                    {"step": step, "by": self.operator, "reason": reason},
                    overridable=True,
                )

    @work(exclusive=True, group="act")
    async def action_sign_off(self) -> None:
        if (step := self._step()) is None:
            return
        plan = self.lead_session.state.plan
        spec = plan.step(step).signoff
        if spec is None:
            self.say(f"{step} requires no sign-off", severity="warning")
            return
        signed = {s.person for s in self.lead_session.state.steps[step].signoffs}
        people = sorted(
            (p for p in plan.people if p.id not in signed),  # nobody signs twice
            key=lambda p: not (set(p.roles) & set(spec.roles)),
        )
        if not people:
            self.say(f"everyone in the plan has signed off {step}", severity="warning")
            return
        already = f"; signed: {', '.join(sorted(signed))}" if signed else ""
        choice = await self.push_screen_wait(
            Picker(
                f"Who signs off {step}? ({signoff_rule(spec)}{already})",
                [(p.id, f"{p.name} ({', '.join(p.roles)})") for p in people],
            )
        )
        by_key = None if choice is None else signs_by_key(self, step, choice)
        if by_key:  # the person at the keyboard, with their own key (ui/signing.py)
            await sign_here(self, step)
        elif by_key is False:
            await self._do(
                f"sign-off of {step} by {choice}", "signoff", {"step": step, "by": choice}
            )

    @work(exclusive=True, group="act")
    async def action_add_note(self) -> None:
        step = self.query_one(Checklist).current_step()
        text = await self.push_screen_wait(
            ReasonDialog("Add note", f"Note on {step or 'the cutover'} (journaled, in the report):")
        )
        if text is not None:
            await self._do("note", "note", {"text": text, "by": self.operator, "step": step})

    @work(exclusive=True, group="act")
    async def action_override_gate(self) -> None:
        if (step := self._step()) is None:
            return
        state = self.lead_session.state
        gates = [
            g.id
            for g in state.plan.step(step).gates
            if g.id is not None and not state.steps[step].gates[g.id].satisfied
        ]
        if not gates:
            self.say(f"{step} has no unmet gate", severity="warning")
            return
        gate = (
            gates[0]
            if len(gates) == 1
            else await self.push_screen_wait(
                Picker(f"Which gate of {step}?", [(g, g) for g in gates])
            )
        )
        if gate is None:
            return
        reason = await self.push_screen_wait(
            ReasonDialog(
                f"Override gate {gate}", "Why is the gate treated as met? (marked forever)"
            )
        )
        if reason is not None:
            await self._do(
                f"override {gate}",
                "override_gate",
                {"step": step, "gate": gate, "by": self.operator, "reason": reason},
            )

    @work(exclusive=True, group="act")
    async def action_run_action(self) -> None:
        """Preview first; run only after the lead confirms; journal what it did."""
        if (step := self._step()) is None:
            return
        try:
            await self.lead_session.request("check_action", step=step, by=self.operator)
        except ActionRefused as refused:
            action = self.lead_session.state.plan.step(step).action
            body = "\n".join(f"• {r.message}" for r in refused.refusals)
            if action is not None:
                body += f"\n\n{preview(action)}"
            self.say(body, title=f"Refused: run action of {step}", severity="error", timeout=10)
            return
        action = self.lead_session.state.plan.step(step).action
        assert action is not None  # check_action refuses a step without one
        try:  # reading Route 53 blocks: a thread, never the screen's loop
            prepared = await asyncio.to_thread(prepare, action, self.lead_session.state)
        except Exception as exc:  # no zone, no credentials, nothing to roll back
            self.say(
                f"{type(exc).__name__}: {exc}",
                title=f"Cannot preview {step}",
                severity="error",
                timeout=10,
            )
            return
        if prepared.route53:
            lines = prepared.lines
            text = "\n".join(lines[:25]) + (
                f"\n… and {len(lines) - 25} more" if len(lines) > 25 else ""
            )
            title = f"Run {action.kind} for {step}? ({len(lines)} change(s))"
        else:
            text, title = "\n".join(prepared.lines), f"Run the action of {step}?"
        if not await self.push_screen_wait(
            ConfirmDialog(title, text, yes="Run", safe_default=True)
        ):
            self.say(f"Cancelled: the action of {step} did not run; nothing changed", timeout=6)
            return
        self.say(f"running the action of {step}…", timeout=3)
        result = await asyncio.to_thread(execute, prepared)
        await self._do(
            f"action of {step}: {describe_result(result)}",
            "record_action",
            {"step": step, "by": self.operator, "result": result},
        )
