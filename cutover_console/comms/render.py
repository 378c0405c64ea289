"""A template, rendered for one channel's format, with every value from data made harmless there.

The plan's template text is the author's; every `{{ field }}` value is data (step titles, notes,
probe results) and passes the untrusted-text boundary first (escape sequences and control
characters become visible symbols), then the channel's own escaping:

- `html` (email): HTML-escaped (Jinja2's autoescape), newlines kept as <br>;
- `chat` (Slack, Teams, Matrix, Discord…): `&`, `<`, `>` escaped (Slack's `<!everyone>`), `@`
  mentions broken with a zero-width space, links defanged (`https[:]//…`), Markdown markup
  escaped;
- `sms`: plain, and the whole message cut at SMS_LIMIT characters with a visible mark;
- `text` (webhooks): plain.

A title never holds a CR or an LF (no header injection through a Subject), in any format.
The sandbox (SandboxedEnvironment) refuses attribute tricks; StrictUndefined makes an unknown
field an error (the plan check refuses those before a cutover starts).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from ..untrusted import BLOCK_LIMIT, clip, visible

FORMATS = ("html", "chat", "sms", "text")
SMS_LIMIT = 1600  # characters: what carriers concatenate at most (Cutover.com caps SMS here too)
TITLE_LIMIT = 200
BODY_LIMIT = 100_000  # characters of one rendered body, whatever a template loops over

_MARKDOWN = re.compile(r"([\\`*_~\[\]()#|>])")
_MENTION = re.compile(r"@(?=\w)")
_LINK = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{1,20}):(?=//)")


def _chat(value: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MARKDOWN.sub(r"\\\1", value)
    value = _LINK.sub(r"\1[:]", value)  # after the escaping: its brackets are ours
    return _MENTION.sub("@\u200b", value)


def _finalizer(fmt: str) -> Any:
    def finalize(value: Any) -> Any:
        if value is None:
            return ""
        text = clip(visible(str(value), multiline=True), BLOCK_LIMIT)
        return _chat(text) if fmt == "chat" else text

    return finalize


def _environment(fmt: str) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        autoescape=fmt == "html",
        finalize=_finalizer(fmt),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


_ENVIRONMENTS: dict[str, Any] = {}


@functools.lru_cache(maxsize=64)
def _compiled(fmt: str, source: str) -> Any:
    """`source` compiled for channels of format `fmt`, once: compiling was most of a render's
    CPU, and the comms engine renders the plan's few templates again for every update."""
    env = _ENVIRONMENTS.get(fmt)
    if env is None:
        env = _ENVIRONMENTS[fmt] = _environment(fmt)
    return env.from_string(source)


@dataclass(frozen=True)
class Rendered:
    """The exact text one format of channel gets."""

    title: str
    body: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.title}\n\n{self.body}".encode()).hexdigest()

    def as_payload(self) -> dict[str, str]:
        return {"title": self.title, "body": self.body, "sha256": self.sha256}


class RenderError(Exception):
    """A template failed at run time (the plan check refuses unknown fields before that)."""


def one_line(text: str) -> str:
    """A title for any header: no CR, LF or other line break, at most TITLE_LIMIT."""
    flat = " ".join(visible(text, multiline=True).split())
    return clip(flat, TITLE_LIMIT)


def render(title: str, body: str, context: dict[str, Any], fmt: str) -> Rendered:
    """`title` and `body` (template text) for channels of format `fmt`."""
    from jinja2 import TemplateError

    try:
        title_out = _compiled(fmt, title).render(context)
        body_out = _compiled(fmt, body).render(context)
    except TemplateError as exc:
        raise RenderError(f"the template cannot be rendered: {exc}") from None
    except (OverflowError, MemoryError, RecursionError) as exc:
        raise RenderError(f"the template cannot be rendered: {type(exc).__name__}") from None
    body_out = clip(body_out, BODY_LIMIT)
    footer = f"Message {context.get('message_id', '')}"
    if fmt == "html":
        body_out = body_out.replace("\n", "<br>\n") + f"<br>\n<br>\n<small>{footer}</small>"
    else:
        body_out = f"{body_out.rstrip()}\n\n{footer}"
    if fmt == "sms" and len(body_out) > SMS_LIMIT:
        cut = len(body_out) - (SMS_LIMIT - 40)
        body_out = f"{body_out[: SMS_LIMIT - 40]}… [cut: {cut} more characters]"
    return Rendered(one_line(title_out), body_out)


# Apprise schemas by the format their service reads. Anything else gets plain text.
_HTML = frozenset({"mailto", "mailtos"})
_CHAT = frozenset(
    {
        "slack",
        "workflows",
        "wf",
        "matrix",
        "matrixs",
        "discord",
        "mmost",
        "mmosts",
        "rocket",
        "rockets",
        "tgram",
        "zulip",
        "msteams",
        "gchat",
        "ntfy",
        "ntfys",
        "guilded",
        "revolt",
        "mastodon",
        "toot",
    }
)
_SMS = frozenset(
    {
        "twilio",
        "sns",
        "nexmo",
        "vonage",
        "clicksend",
        "msg91",
        "d7sms",
        "bulksms",
        "sinch",
        "kavenegar",
        "smseagle",
        "smseagles",
        "plivo",
        "messagebird",
        "46elks",
        "bulkvs",
        "httpsms",
        "seven",
        "signal",
        "signals",
        "threema",
    }
)


def format_of(url: str) -> str:
    """The format a channel's URL (or a config file's first URL) gets."""
    schema = url.split(":", 1)[0].strip().lower()
    if schema in _HTML:
        return "html"
    if schema in _CHAT:
        return "chat"
    if schema in _SMS:
        return "sms"
    return "text"
