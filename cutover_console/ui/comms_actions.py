"""The lead's comms actions in the console: send an update now (a template, or "no change since
…"), acknowledge abandoned deliveries, and the preview before a `kind: comms` step is completed.
Preview first, Cancel the default, as for actions; sent as a named request to the session's
writer (the journal service's comms engine delivers it)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.binding import Binding

from ..comms.preview import (
    Preview,
    PreviewError,
    audience_formats,
    audience_previews,
    preview_text,
    step_sends,
    step_trigger,
)
from ..runbook import ActionRefused
from ..runbook.fold import CutoverState
from ..service.surface import ConsoleSession
from .bindings import WRITE_BINDINGS, key_label, keys_of
from .dialogs import ConfirmDialog, Picker
from .views.comms import CommsPane

if TYPE_CHECKING:
    _AppBase = App[None]
else:
    _AppBase = object


class CommsActions(_AppBase):
    """Mixed into the lead's app (`LeadApp`)."""

    lead_session: ConsoleSession
    operator: str

    if TYPE_CHECKING:

        def say(self, message: str, **kwargs: Any) -> None: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The update key exists (and shows in the footer) only when the plan sends updates."""
        if action == "send_update" and self.lead_session.state.plan.comms is None:
            return False
        return super().check_action(action, parameters)

    def on_mount(self) -> None:
        panes = self.query(CommsPane)
        binding = next(
            b for b in WRITE_BINDINGS if isinstance(b, Binding) and b.id == "send-update"
        )
        keys = keys_of(self, binding)
        if panes and keys:
            panes.first().send_hint = (
                f"{key_label(self, keys[0])}: send now, 'no change since …', acknowledge "
                "(preview first, Cancel the default)"
            )

    async def _previews(
        self, template: str | None, audiences: list[str] | None = None, step: str | None = None
    ) -> list[Preview]:
        state: CutoverState = self.lead_session.state
        # resolving channel references reads the environment and files: a thread
        formats = await asyncio.to_thread(audience_formats, state.plan, audiences)
        with self.lead_session.lock:
            about = step_trigger(state, step) if step else None
            return audience_previews(state, self.now(), template, audiences, formats, about)  # type: ignore[attr-defined]

    async def preview_comms_step(self, step: str) -> bool:
        """Before a `kind: comms` step is completed: what it sends, and Send or Cancel."""
        sends = step_sends(self.lead_session.state.plan, step)
        if sends is None:
            return True
        try:
            found = await self._previews(sends.template, sends.audiences, step)
        except PreviewError as exc:
            self.say(str(exc), title=f"Cannot preview {step}", severity="error", timeout=10)
            return False
        if await self.push_screen_wait(
            ConfirmDialog(f"Complete {step} and send this?", preview_text(found), yes="Send")
        ):
            return True
        self.say(f"Cancelled: {step} was not completed; nothing was sent", timeout=6)
        return False

    @work(exclusive=True, group="act")
    async def action_send_update(self) -> None:
        comms = self.lead_session.state.plan.comms
        if comms is None:
            self.say("this plan has no `comms:` section", severity="warning")
            return
        choices = [(f"t:{t.id}", f"Send '{t.id}' to every audience now") for t in comms.templates]
        choices.append(("no-change", "Send 'no change since the last update' (counts as one)"))
        with self.lead_session.lock:
            abandoned = self.lead_session.comms.ledger.abandoned()
        if abandoned:
            choices.append(("ack", f"Acknowledge {len(abandoned)} abandoned delivery(ies)"))
        chosen = await self.push_screen_wait(Picker("Stakeholder update", choices))
        if chosen is None:
            return
        if chosen == "ack":
            for message, target in abandoned:
                await self._send(
                    "acknowledged",
                    "comms_ack",
                    {"message": message.id, "target": target.target, "by": self.operator},
                )
            return
        no_change = chosen == "no-change"
        template = None if no_change else chosen[2:]
        try:
            found = await self._previews(template)
        except PreviewError as exc:
            self.say(str(exc), title="Cannot preview", severity="error", timeout=10)
            return
        text = (
            "Each audience is told that nothing changed since its last delivered update."
            if no_change
            else preview_text(found)
        )
        if not await self.push_screen_wait(
            ConfirmDialog("Send this update now?", text, yes="Send")
        ):
            self.say("Cancelled: nothing was sent", timeout=5)
            return
        args = {"by": self.operator, "template": template, "no_change": no_change or None}
        await self._send("update queued", "comms_send", args)

    async def _send(self, label: str, op: str, args: dict[str, Any]) -> None:
        try:
            event = await self.lead_session.request(
                op, **{k: v for k, v in args.items() if v is not None}
            )
        except ActionRefused as refused:
            text = "\n".join(f"• {r.message}" for r in refused.refusals)
            self.say(text, title=f"Refused: {label}", severity="error", timeout=8)
            return
        if event is not None:
            from .messages import StateChanged

            self.post_message(StateChanged([event]))
            self.say(f"{label}: journaled as event {event.seq}", timeout=3)
