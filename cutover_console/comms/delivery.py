"""Sending one message to one target with Apprise, and reading what the server said.

Apprise 2.x (pinned `>=2,<3` in pyproject.toml): `notify()` returns an AppriseResult with one
NotifyResult per service and its attempts and warnings. We still build one `Apprise` object per
target, so a target's outcome is that object's outcome on any version, and our own retries (with
backoff, journaled) replace Apprise's (`retry=0`, its default).

Apprise does not hand back the server's words on success. The server's reply is read where the
protocol returns it to the library under Apprise: `smtplib.SMTP.data` returns the reply to the
DATA command (`250 …`), `requests.Session.send` returns the HTTP response. Both are wrapped once
(`_tap`) to note those replies in a context variable that the sending thread sets; Apprise runs a
service through `contextvars.copy_context().run`, which shares the list we put there.

Blocking: every call here runs on a worker thread of the comms engine, never on a screen's loop
or the journal's thread.
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..secrets import REDACT, SecretUnavailable, resolve
from .render import Rendered

HEADER = "X-Cutover-Message"
_heard: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("heard", default=None)
_tapped = threading.Lock()
_TAPPED: list[bool] = []


def _note(text: str) -> None:
    heard = _heard.get()
    if heard is not None:
        heard.append(text)


def _tap() -> None:
    """Wrap the two calls that return the server's reply (once per process)."""
    with _tapped:
        if _TAPPED:
            return
        import smtplib

        import requests

        data = smtplib.SMTP.data

        def data_heard(self: smtplib.SMTP, msg: Any) -> Any:
            reply = data(self, msg)
            code, text = reply
            _note(
                f"SMTP {code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
            )
            return reply

        send = requests.Session.send

        def send_heard(self: requests.Session, request: Any, **kwargs: Any) -> Any:
            response = send(self, request, **kwargs)
            _note(f"HTTP {response.status_code} {response.reason or ''}".rstrip())
            return response

        smtplib.SMTP.data = data_heard  # type: ignore[method-assign]
        requests.Session.send = send_heard  # type: ignore[method-assign]
        _TAPPED.append(True)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reply: str  # what the server said (accepted or not)
    reason: str  # why it failed ("" when it did not)
    url: str  # privacy-masked URL(s), for the journal and the screen


class ChannelError(Exception):
    """A channel that cannot be sent to (its reference, its URL); never carries the secret."""


def resolve_channel(channel: str, base: Path | None = None) -> list[str]:
    """The Apprise URLs behind a reference: one URL, or the URLs of an Apprise config file."""
    try:
        value = resolve(channel, base=base)
    except SecretUnavailable as exc:
        raise ChannelError(str(exc)) from None
    lines = [x.strip() for x in value.splitlines() if x.strip() and not x.strip().startswith("#")]
    if len(lines) == 1 and "://" in lines[0] and not lines[0].startswith("urls:"):
        return [lines[0]]
    import apprise

    config = apprise.AppriseConfig()
    if not config.add_config(value):
        raise ChannelError(f"{channel} is neither an Apprise URL nor an Apprise configuration")
    urls = [server.url() for server in config.services()]
    if not urls:
        raise ChannelError(f"{channel}: its Apprise configuration names no service")
    for url in urls:
        REDACT.remember(url)
    return urls


def privacy_url(urls: list[str]) -> str:
    """Apprise's masked form of each URL (passwords and tokens as ****)."""
    import apprise

    out = []
    for url in urls:
        found = apprise.Apprise.instantiate(url)
        out.append(found.url(privacy=True) if found is not None else "(not an Apprise URL)")
    return REDACT(" ".join(out))


def send(urls: list[str], rendered: Rendered, fmt: str, message_id: str, timeout: float) -> Outcome:
    """One attempt at one target: every URL of it, with the message id in a header."""
    import apprise

    _tap()
    notifier = apprise.Apprise()
    shown = privacy_url(urls)
    for url in urls:
        if not notifier.add(url):
            return Outcome(False, "", "Apprise cannot read this channel's URL", shown)
    for service in notifier:
        headers = getattr(service, "headers", None)
        if isinstance(headers, dict):
            headers[HEADER] = message_id
    body_format = {
        "html": apprise.NotifyFormat.HTML,
        "chat": apprise.NotifyFormat.MARKDOWN,
    }.get(fmt, apprise.NotifyFormat.TEXT)
    heard: list[str] = []
    token = _heard.set(heard)
    try:
        result = notifier.notify(
            body=rendered.body, title=rendered.title, body_format=body_format, timeout=timeout
        )
    except Exception as exc:  # a plugin's bug: a failed attempt, never a crashed engine
        return Outcome(False, "", REDACT(f"{type(exc).__name__}: {exc}")[:300], shown)
    finally:
        _heard.reset(token)
    reply = REDACT("; ".join(heard))[:300]
    if bool(result):
        return Outcome(True, reply or "accepted", "", shown)
    warnings = [
        entry.message
        for service in result
        for attempt in getattr(service, "attempts", ())
        for entry in attempt.logs
        if entry.level in ("WARNING", "ERROR")
    ]
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    reason = "; ".join(dict.fromkeys(warnings)) or f"Apprise: {status.lower()}"
    if status == "TIMEOUT":
        reason = f"no answer within {timeout:g}s"
    return Outcome(False, reply, REDACT(reason)[:300], shown)
