"""Sending one message to one target with Apprise, and reading what the server said.

Apprise is pinned `>=2.2,<3` (pyproject.toml): the API used here was checked against 2.3:
`Apprise.instantiate(url)`, a service's synchronous `notify(body=, title=, notify_type=,
body_format=)`, its `headers` dict (mailto, json, form, xml) and its socket timeouts, and
`url(privacy=True)`. 2.0 changed what `Apprise.notify()` returns (an AppriseResult per service,
where 1.x returned one bool), so a major version may change these again.

Per-target results: each target's services are called directly, one by one, on the comms
engine's own worker thread, and the target's outcome is theirs. We do NOT call
`Apprise.notify()`: in 2.x it dispatches through one process-wide pool of min(32, CPUs+4)
threads, and a server that never answers holds one of them until its socket times out; on a
2-core machine six such sends delayed every other target by 11 s (benchmarks/comms.py). Here a
never-answering server holds only our own thread, at most `comms.timeout`.

TLS contexts for SMTP: Apprise 2.x builds `ssl.create_default_context()` for every SMTP
connection, TLS or not, and loading the system's CA certificates is costly (~70 ms of CPU each
time here: 43% of the journal service's CPU while it sent one update a second, which the lead's
console felt as slower key presses on a 2-core machine: benchmarks/comms.py). `_tap` gives
Apprise's SMTP module an `ssl` of its own (`_SmtpSsl`) that answers that one call by the target
being sent to: plain SMTP (the context is never used) gets a bare context that trusts nothing; a
TLS target that verifies certificates gets one default context shared by the process (Apprise
changes a context only to turn verification off, which it never asks of this one); anything
else gets a fresh default context, as before.

Apprise does not hand back the server's words on success. They are read where the protocol
returns them to the library under Apprise: `smtplib.SMTP.data` returns the reply to the DATA
command (`250 …`), `requests.Session.send` the HTTP response. Both are wrapped once (`_tap`) to
note those replies in a context variable the sending thread sets; Apprise's warnings (why a send
failed) are collected the same way by a logging handler.

Blocking: every call here runs on a worker thread of the comms engine, never on a screen's loop
or the journal's thread.
"""

from __future__ import annotations

import contextvars
import logging
import os
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..secrets import REDACT
from .render import Rendered

HEADER = "X-Cutover-Message"
_heard: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("heard", default=None)
_warned: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("warned", default=None)
_tls: contextvars.ContextVar[str | None] = contextvars.ContextVar("tls", default=None)
_tapped = threading.Lock()
_TAPPED: list[bool] = []
_VERIFYING: list[ssl.SSLContext] = []  # the one shared default context (see _SmtpSsl)


class _SmtpSsl:
    """The `ssl` module as Apprise's SMTP plugin sees it: the real one, but for
    `create_default_context`, answered by the target this thread is sending to (module
    docstring)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)

    def create_default_context(self, *args: Any, **kwargs: Any) -> ssl.SSLContext:
        mode = _tls.get()
        if args or kwargs or mode is None:
            return ssl.create_default_context(*args, **kwargs)
        if mode == "plain":  # never used on plain SMTP; were it used, it trusts no one
            return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        with _tapped:
            if not _VERIFYING:
                _VERIFYING.append(ssl.create_default_context())
            return _VERIFYING[0]


def _tls_mode(service: Any) -> str | None:
    """What an SMTP service's connection needs of its TLS context: "plain" (none), "verify"
    (a verifying one, never changed by Apprise), or None (anything else: a fresh one)."""
    from apprise.plugins.email import NotifyEmail

    if not isinstance(service, NotifyEmail):
        return None
    if service.secure_mode == "insecure":
        return "plain"
    return "verify" if service.verify_certificate else None


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

        from apprise.plugins.email import smtp as apprise_smtp

        if getattr(apprise_smtp, "ssl", None) is ssl:  # the layout of Apprise 2.3
            apprise_smtp.ssl = _SmtpSsl()  # type: ignore[assignment]
        smtplib.SMTP.data = data_heard  # type: ignore[method-assign]
        requests.Session.send = send_heard  # type: ignore[method-assign]
        logging.getLogger("apprise").addHandler(_Warnings(logging.WARNING))
        _TAPPED.append(True)


class _Warnings(logging.Handler):
    """Apprise's warnings (why a send failed), kept for the attempt of the thread that logs
    them (a handler runs in the thread that logs)."""

    def emit(self, record: logging.LogRecord) -> None:
        warned = _warned.get()
        if warned is not None:
            warned.append(record.getMessage())


@dataclass(frozen=True)
class Outcome:
    ok: bool
    reply: str  # what the server said (accepted or not)
    reason: str  # why it failed ("" when it did not)
    url: str  # privacy-masked URL(s), for the journal and the screen


class ChannelError(Exception):
    """A channel that cannot be sent to (its reference, its URL); never carries the secret."""


def _reference_value(channel: str, base: Path | None) -> str:
    """The text behind `env:NAME` / `file:PATH` (relative paths: from `base`), unredacted: the
    caller decides which parts are secrets (`resolve_channel`)."""
    kind, _, name = channel.partition(":")
    if kind == "env":
        value = os.environ.get(name)
        if value is None:
            raise ChannelError(f"environment variable {name} is not set (from {channel})")
        return value
    if kind == "file":
        path = Path(name)
        if not path.is_absolute() and base is not None:
            path = base / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ChannelError(f"cannot read {path}: {exc.strerror} (from {channel})") from None
    raise ChannelError(f"'{channel[:40]}' is not a secret reference (env:NAME or file:/path)")


def _remember_secrets(url: str) -> None:
    """Every part of `url` that Apprise's privacy form hides (passwords, tokens, keys) is a
    secret from now on, blanked wherever this process writes it; what Apprise shows (scheme,
    host, port, a webhook's path) stays readable in the journal and on screen."""
    import apprise

    service = apprise.Apprise.instantiate(url)
    shown = service.url(privacy=True) if service is not None else ""
    try:
        split = urlsplit(url)
        password = split.password
        host = split.hostname or ""
    except ValueError:
        return REDACT.remember(url)  # not a URL we can take apart: all of it is secret
    # the values a URL carries (the password, a token as host or path segment, query values),
    # never its scheme or its query's keys: a key such as 'token' blanked everywhere would
    # blank the name the key=value rule finds secrets by
    values = {password or "", host, split.fragment}
    values |= set(split.path.split("/"))
    values |= {value for _key, value in parse_qsl(split.query, keep_blank_values=True)}
    parts = {v for v in values if len(v) >= 4} | ({password} if password else set())
    for part in parts:
        for form in {part, unquote(part)}:
            if form not in shown or form == password:
                REDACT.remember(form)


def resolve_channel(channel: str, base: Path | None = None) -> list[str]:
    """The Apprise URLs behind a reference: one URL, or the URLs of an Apprise config file."""
    value = _reference_value(channel, base)
    lines = [x.strip() for x in value.splitlines() if x.strip() and not x.strip().startswith("#")]
    if len(lines) == 1 and "://" in lines[0] and not lines[0].startswith("urls:"):
        urls = [lines[0]]
    else:
        import apprise

        config = apprise.AppriseConfig()
        if not config.add_config(value):
            REDACT.remember(value)
            raise ChannelError(f"{channel} is neither an Apprise URL nor an Apprise configuration")
        urls = [server.url() for server in config.services()]
        if not urls:
            raise ChannelError(f"{channel}: its Apprise configuration names no service")
    for url in urls:
        _remember_secrets(url)
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
    """One attempt at one target: every URL of it, with the message id in a header, sent from
    this thread (see the module's docstring: never through Apprise's shared pool)."""
    import apprise

    _tap()
    shown = privacy_url(urls)
    services = []
    for url in urls:
        service = apprise.Apprise.instantiate(url)
        if service is None:
            return Outcome(False, "", "Apprise cannot read this channel's URL", shown)
        headers = getattr(service, "headers", None)
        if isinstance(headers, dict):
            headers[HEADER] = message_id
        # a server that never answers holds this thread at most `timeout`
        service.socket_connect_timeout = service.socket_read_timeout = timeout
        services.append(service)
    body_format = {
        "html": apprise.NotifyFormat.HTML,
        "chat": apprise.NotifyFormat.MARKDOWN,
    }.get(fmt, apprise.NotifyFormat.TEXT)
    heard: list[str] = []
    warned: list[str] = []
    started = time.monotonic()
    tokens = (_heard.set(heard), _warned.set(warned))
    try:
        results = []
        for service in services:  # every one is tried, as before, even after a failure
            tls = _tls.set(_tls_mode(service))
            try:
                results.append(
                    service.notify(
                        body=rendered.body,
                        title=rendered.title,
                        notify_type=apprise.NotifyType.INFO,
                        body_format=body_format,
                    )
                )
            finally:
                _tls.reset(tls)
        ok = all(results)
    except Exception as exc:  # a plugin's bug: a failed attempt, never a crashed engine
        return Outcome(False, "", REDACT(f"{type(exc).__name__}: {exc}")[:300], shown)
    finally:
        _heard.reset(tokens[0])
        _warned.reset(tokens[1])
    reply = REDACT("; ".join(heard))[:300]
    if ok:
        return Outcome(True, reply or "accepted", "", shown)
    reason = "; ".join(dict.fromkeys(warned)) or "the service refused it (no reason given)"
    if time.monotonic() - started >= timeout * 0.95:
        reason = f"no answer within {timeout:g}s ({reason})"
    return Outcome(False, reply, REDACT(reason)[:300], shown)
