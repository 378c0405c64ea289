"""The exact text of an update, before it is sent: what `comms.rendered` journals, what
`cutover comms preview` prints and what the console's preview shows (one function for all)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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
) -> list[Preview]:
    """What each audience (or the one named) would get now, once per format of its channels
    (`formats`: audience id -> formats, from `channel_formats`; default: plain text)."""
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
        queued = queued_payload(
            state.plan, state.head_seq + 1, "preview", a.id, template_id,
            {"kind": "preview", "text": "Update from the lead"},
        )  # fmt: skip
        payload = rendered_payload(state, now, queued)
        if "error" in payload:
            raise PreviewError(payload["error"])
        for fmt in (formats or {}).get(a.id, ["text"]):
            text = payload["formats"][fmt]
            out.append(Preview(a.name or a.id, fmt, text["title"], text["body"]))
    return out
