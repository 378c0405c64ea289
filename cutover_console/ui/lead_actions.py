"""The lead's actions: start, complete, fail, skip, re-open, roll back, sign off, note,
override a gate, run a step's automated action. Each runs on the journal's thread and is shown
only once it is journaled; a refusal a lead may override asks for the reason first."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App

from ..journal import Event
from ..runbook import ActionRefused, Cutover
from ..runbook.command_action import preview
from ..runbook.step_action import execute, prepare
from ..service.lead import LeadSession
from .dialogs import ConfirmDialog, PersonPicker, ReasonDialog
from .messages import StateChanged
from .views import Checklist

if TYPE_CHECKING:  # the mixin is only ever part of LeadApp: type it as the app it is
    _AppBase = App[None]
else:
    _AppBase = object


class LeadActions(_AppBase):
    """The `action_*` methods of the lead's console (mixed into `LeadApp`)."""

    lead_session: LeadSession
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

    def _step(self) -> str | None:
        step = self.query_one(Checklist).current_step()
        if step is None:
            self.say("no step selected", severity="warning")
        return step

    async def _do(
        self,
        label: str,
        action: Callable[[Cutover], Event | None],
        retry: Callable[[str], Callable[[Cutover], Event | None]] | None = None,
    ) -> None:
        """Run an action on the journal's thread; show it only once it is journaled."""
        try:
            event = await self.lead_session.act(action)
        except ActionRefused as refused:
            overridable = all(r.overridable for r in refused.refusals) and retry is not None
            text = "\n".join(f"• {r.message}" for r in refused.refusals)
            if not overridable:
                self.say(text, title=f"Refused: {label}", severity="error", timeout=8)
                return
            if not await self.push_screen_wait(
                ConfirmDialog(
                    f"Refused: {label}",
                    f"{text}\n\nOverride as lead? The override and its "
                    "reason are journaled forever.",
                    yes="Override…",
                )
            ):
                return
            reason = await self.push_screen_wait(
                ReasonDialog(
                    "Override", "Why is this overridden?", "the reason, as the report will show it"
                )
            )
            if reason is None:
                return
            assert retry is not None
            await self._do(label, retry(reason))
            return
        if event is not None:
            self.post_message(StateChanged([event]))
            self.say(f"{label}: journaled as event {event.seq}", timeout=3)

    @work(exclusive=True, group="act")
    async def action_start_step(self) -> None:
        if (step := self._step()) is None:
            return
        await self._do(
            f"start {step}",
            lambda c: c.start(step, self.operator),
            lambda why: lambda c: c.start(step, self.operator, override=why),
        )

    @work(exclusive=True, group="act")
    async def action_complete_step(self) -> None:
        if (step := self._step()) is None:
            return
        await self._do(
            f"complete {step}",
            lambda c: c.complete(step, self.operator),
            lambda why: lambda c: c.complete(step, self.operator, override=why),
        )

    async def _with_reason(
        self, verb: str, step: str, call: Callable[[Cutover, str], Event | None]
    ) -> None:
        reason = await self.push_screen_wait(
            ReasonDialog(f"{verb.title()} {step}", f"Why {verb} this step?")
        )
        if reason is not None:
            await self._do(f"{verb} {step}", lambda c: call(c, reason))

    @work(exclusive=True, group="act")
    async def action_fail_step(self) -> None:
        if (step := self._step()) is not None:
            await self._with_reason("fail", step, lambda c, r: c.fail(step, self.operator, r))

    @work(exclusive=True, group="act")
    async def action_skip_step(self) -> None:
        if (step := self._step()) is not None:
            await self._with_reason("skip", step, lambda c, r: c.skip(step, self.operator, r))

    @work(exclusive=True, group="act")
    async def action_reopen_step(self) -> None:
        if (step := self._step()) is not None:
            await self._with_reason("re-open", step, lambda c, r: c.reopen(step, self.operator, r))

    @work(exclusive=True, group="act")
    async def action_rollback_step(self) -> None:
        if (step := self._step()) is not None:
            reason = await self.push_screen_wait(
                ReasonDialog(f"Roll back {step}", "What was rolled back, and why?")
            )
            if reason is not None:
                await self._do(
                    f"roll back {step}",
                    lambda c: c.rollback(step, self.operator, reason),
                    lambda why: lambda c: c.rollback(step, self.operator, reason, override=why),
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
        people = sorted(plan.people, key=lambda p: not (set(p.roles) & set(spec.roles)))
        choice = await self.push_screen_wait(
            PersonPicker(
                f"Who signs off {step}? (needs {spec.count} × {'/'.join(spec.roles)})",
                [(p.id, f"{p.name} ({', '.join(p.roles)})") for p in people],
            )
        )
        if choice is not None:
            await self._do(f"sign-off of {step} by {choice}", lambda c: c.signoff(step, choice))

    @work(exclusive=True, group="act")
    async def action_add_note(self) -> None:
        step = self.query_one(Checklist).current_step()
        text = await self.push_screen_wait(
            ReasonDialog("Add note", f"Note on {step or 'the cutover'} (journaled, in the report):")
        )
        if text is not None:
            await self._do("note", lambda c: c.note(text, self.operator, step_id=step))

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
                PersonPicker(f"Which gate of {step}?", [(g, g) for g in gates])
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
                f"override {gate}", lambda c: c.override_gate(step, gate, self.operator, reason)
            )

    @work(exclusive=True, group="act")
    async def action_run_action(self) -> None:
        """Preview first; run only after the lead confirms; journal what it did."""
        if (step := self._step()) is None:
            return
        try:
            spec = await self.lead_session.act(lambda c: c.check_action(step, self.operator))
        except ActionRefused as refused:
            action = self.lead_session.state.plan.step(step).action
            body = "\n".join(f"• {r.message}" for r in refused.refusals)
            if action is not None:
                body += f"\n\n{preview(action)}"
            self.say(body, title=f"Refused: run action of {step}", severity="error", timeout=10)
            return
        action = spec.action
        assert action is not None
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
        if not await self.push_screen_wait(ConfirmDialog(title, text, yes="Run")):
            return
        self.say(f"running the action of {step}…", timeout=3)
        result = await asyncio.to_thread(execute, prepared)
        await self._do(
            f"action of {step} (exit {result['exit']})",
            lambda c: c.record_action(step, self.operator, result),
        )
