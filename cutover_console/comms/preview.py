"""The exact text of an update, before it is sent: what `comms.rendered` journals, what
`cutover comms preview` prints and what the console's preview shows (one function for all), and
what a `kind: comms` step sends when it is completed (the console's dialog and `cutover step
done` show the same text, from `step_previews` and `preview_text`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..plan import Plan
from ..plan.comms import StepComms
from ..runbook import CutoverState
from ..runbook.outbox import queued_payload
from .context import template_context
from .render import FORMATS, Rendered, RenderError, format_of, render


def rendered_payload(state: CutoverState, now: datetime, queued: dict[str, Any]) -> dict[str, Any]:
    """A `comms.rendered` payload for the `comms.queued` payload `queued` (read the state under
    its lock): the text in every format, or why it could not be rendered."""
    comms = state.plan.comms
    assert comms is not None
    found = [t for t in comms.templates if t.id == queued.get("template")]
    if not found:
        return {"message": queued["message"], "error": f"no template '{queued.get('template')}'"}
    context = template_context(state, now, queued)
    try:
        formats = {
            f: render(found[0].title, found[0].body, context, f).as_payload() for f in FORMATS
        }
    except RenderError as exc:
        return {"message": queued["message"], "error": str(exc)[:300]}
    if queued.get("test"):
        for text in formats.values():
            text["title"] = f"[TEST] {text['title']}"
            text["sha256"] = Rendered(text["title"], text["body"]).sha256
    return {"message": queued["message"], "formats": formats}


@dataclass(frozen=True)
class Preview:
    audience: str  # its name
    format: str
    title: str
    body: str


class PreviewError(Exception):
    """The plan has no comms, or names no such template or audience, or it does not render."""


def channel_formats(channels: list[str], base: Path | None = None) -> list[str]:
    """The formats an audience's channels get (a channel that cannot be resolved here: text).
    Reads the references (env, files): call it off a screen's loop."""
    from .delivery import ChannelError, resolve_channel

    found = set()
    for channel in channels:
        try:
            found.add(format_of(resolve_channel(channel, base)[0]))
        except ChannelError:
            found.add("text")
    return sorted(found)


def previews(
    state: CutoverState,
    now: datetime,
    template: str | None = None,
    audience: str | None = None,
    formats: dict[str, list[str]] | None = None,
    about: tuple[str, dict[str, Any]] | None = None,
) -> list[Preview]:
    """What each audience (or the one named) would get now, once per format of its channels
    (`formats`: audience id -> formats, from `channel_formats`; default: plain text). `about`:
    the rule id and trigger the update will be queued with (default: one sent by the lead)."""
    comms = state.plan.comms
    if comms is None:
        raise PreviewError("the plan has no `comms:` section")
    template_id = template or comms.templates[0].id
    if template_id not in {t.id for t in comms.templates}:
        raise PreviewError(f"no template '{template_id[:40]}'")
    chosen = [a for a in comms.audiences if audience in (None, a.id)]
    if not chosen:
        raise PreviewError(f"no audience '{str(audience)[:40]}'")
    out = []
    for a in chosen:
        rule, trigger = about or ("preview", {"kind": "preview", "text": "Update from the lead"})
        queued = queued_payload(state.plan, state.head_seq + 1, rule, a.id, template_id, trigger)
        payload = rendered_payload(state, now, queued)
        if "error" in payload:
            raise PreviewError(payload["error"])
        for fmt in (formats or {}).get(a.id, ["text"]):
            text = payload["formats"][fmt]
            out.append(Preview(a.name or a.id, fmt, text["title"], text["body"]))
    return out


def audience_formats(plan: Plan, audiences: list[str] | None = None) -> dict[str, list[str]]:
    """`channel_formats` of each audience (or of those named). Reads the channels' references
    (env, files): call it off a screen's loop, outside the state's lock."""
    comms = plan.comms
    if comms is None:
        return {}
    return {
        a.id: channel_formats(a.channels)
        for a in comms.audiences
        if audiences is None or a.id in audiences
    }


def audience_previews(
    state: CutoverState,
    now: datetime,
    template: str | None,
    audiences: list[str] | None,
    formats: dict[str, list[str]],
    about: tuple[str, dict[str, Any]] | None = None,
) -> list[Preview]:
    """`previews` for each audience named (None: every audience), in the plan's order (read
    the state under its lock)."""
    comms = state.plan.comms
    if comms is None:
        raise PreviewError("the plan has no `comms:` section")
    found: list[Preview] = []
    for a in comms.audiences:
        if audiences is None or a.id in audiences:
            found += previews(state, now, template, a.id, formats, about)
    return found


def step_trigger(state: CutoverState, step_id: str) -> tuple[str, dict[str, Any]]:
    """The rule id and trigger that completing the comms step `step_id` queues its update with
    (as `runbook.outbox.decision_updates` does), so the preview's `trigger`, `step` and
    `message_id` are the ones sent."""
    title = state.plan.step(step_id).title
    trigger = {"kind": "comms_step", "seq": state.head_seq + 1, "text": title, "step": step_id}
    return f"step-{step_id}", trigger


def step_sends(plan: Plan, step_id: str) -> StepComms | None:
    """What completing `step_id` sends (a `kind: comms` step's template and audiences), or
    None for a step that sends nothing itself."""
    found = next((s for s in plan.steps if s.id == step_id), None)
    if found is None or found.comms is None or plan.comms is None:
        return None
    return found.comms


PREVIEW_CHARS = 1_500  # of each audience's text in the console's dialog


def preview_text(found: list[Preview], limit: int = PREVIEW_CHARS) -> str:
    """The previews as one text, audience by audience: what the lead reads before Send. Not
    made inert here: the dialog shows it as literal text, the CLI through `untrusted.inert`."""
    parts = []
    for p in found:
        body = p.body if len(p.body) <= limit else f"{p.body[:limit]}…"
        parts.append(f"── {p.audience} ({p.format}) ──\nSubject: {p.title}\n{body}")
    return "\n\n".join(parts)


def step_previews(state: CutoverState, now: datetime, step_id: str) -> list[Preview] | None:
    """What completing `step_id` would send now, audience by audience, per format of its
    channels (None: the step sends nothing itself). Resolves the channels' references (env,
    files): off a screen's loop."""
    sends = step_sends(state.plan, step_id)
    if sends is None:
        return None
    formats = audience_formats(state.plan, sends.audiences)
    about = step_trigger(state, step_id)
    return audience_previews(state, now, sends.template, sends.audiences, formats, about)
