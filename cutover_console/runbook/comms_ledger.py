"""The stakeholder updates as the journal recorded them: every message, its exact text, and where
each of its targets stands. The engine, the CLI, the pane and the report read this one fold."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..journal import Event, JournalReader, payloads
from ..journal import events as ev
from ..timestamps import parse_ts

KINDS = frozenset(
    {
        ev.COMMS_QUEUED,
        ev.COMMS_RENDERED,
        ev.COMMS_ATTEMPT,
        ev.COMMS_DELIVERED,
        ev.COMMS_FAILED,
        ev.COMMS_ABANDONED,
        ev.COMMS_ACKNOWLEDGED,
        ev.COMMS_OVERDUE,
    }
)
SETTLED = ("delivered", "abandoned")


@dataclass
class TargetState:
    target: str
    channel: str  # the reference (env:NAME), never the URL
    status: str = "queued"  # queued, sending, failed (will retry), delivered, abandoned
    attempts: int = 0
    url: str = ""  # Apprise's privacy-masked URL, once resolved
    format: str = ""  # the text format it was sent (html, chat, sms, text)
    reply: str = ""  # what the server said when it accepted
    reason: str = ""  # why the last attempt failed
    retry_at: datetime | None = None
    at: datetime | None = None  # of the last change
    acknowledged_by: str = ""


@dataclass
class Message:
    id: str
    rule: str
    audience: str
    template: str
    trigger: dict[str, Any]
    seq: int
    queued_at: datetime
    test: bool = False
    no_change_since: str | None = None
    rendered: dict[str, dict[str, str]] = field(default_factory=dict)  # format -> title, body
    render_error: str = ""
    targets: dict[str, TargetState] = field(default_factory=dict)
    changes: int = 0  # bumps with every event about it (a view redraws only the rows that moved)

    @property
    def settled(self) -> bool:
        return all(t.status in SETTLED for t in self.targets.values())

    @property
    def delivered_at(self) -> datetime | None:
        times = [t.at for t in self.targets.values() if t.status == "delivered" and t.at]
        return min(times) if times else None


@dataclass
class CommsLedger:
    messages: dict[str, Message] = field(default_factory=dict)
    overdue: list[dict[str, Any]] = field(default_factory=list)  # comms.overdue payloads + at
    head_seq: int = 0
    malformed: list[int] = field(default_factory=list)  # comms events that did not fit, skipped

    @classmethod
    def of(cls, events: Iterable[Event]) -> CommsLedger:
        ledger = cls()
        ledger.fold(events)
        return ledger

    def fold(self, events: Iterable[Event]) -> bool:
        """Fold events in (any kind; others are skipped); True when a comms event came."""
        changed = False
        for event in events:
            if event.seq <= self.head_seq:
                continue
            self.head_seq = event.seq
            if event.kind in KINDS and payloads.problem(event.kind, event.payload) is None:
                try:
                    self._apply(event)
                except (KeyError, TypeError, ValueError, AttributeError):
                    self.malformed.append(event.seq)  # a payload the engine never writes
                changed = True
        return changed

    def _apply(self, event: Event) -> None:
        p, at = event.payload, parse_ts(event.ts)
        if event.kind == ev.COMMS_QUEUED:
            message = Message(
                str(p["message"]),
                str(p.get("rule", "")),
                str(p.get("audience", "")),
                str(p.get("template", "")),
                dict(p.get("trigger") or {}),
                event.seq,
                at,
                bool(p.get("test")),
                p.get("no_change_since"),
            )
            for t in p.get("targets") or []:
                message.targets[str(t["target"])] = TargetState(
                    str(t["target"]), str(t.get("channel", "")), at=at
                )
            self.messages.setdefault(message.id, message)
            return
        if event.kind == ev.COMMS_OVERDUE:
            self.overdue.append({**p, "at": at})
            return
        found = self.messages.get(str(p.get("message")))
        if found is None:
            return
        message = found
        message.changes += 1
        if event.kind == ev.COMMS_RENDERED:
            message.rendered = dict(p.get("formats") or {})
            message.render_error = str(p.get("error") or "")
            return
        target = message.targets.get(str(p.get("target")))
        if target is None:
            return
        target.at = at
        if event.kind == ev.COMMS_ATTEMPT:
            target.status, target.attempts = "sending", int(p.get("attempt", target.attempts + 1))
            target.url = str(p.get("url") or target.url)
            target.format = str(p.get("format") or target.format)
        elif event.kind == ev.COMMS_DELIVERED:
            target.status, target.reply, target.retry_at = (
                "delivered",
                str(p.get("reply", "")),
                None,
            )
        elif event.kind == ev.COMMS_FAILED:
            target.status, target.reason = "failed", str(p.get("reason", ""))
            retry = p.get("retry_at")
            target.retry_at = parse_ts(retry) if retry else None
        elif event.kind == ev.COMMS_ABANDONED:
            target.status, target.retry_at = "abandoned", None
            target.reason = str(p.get("reason") or target.reason)
        elif event.kind == ev.COMMS_ACKNOWLEDGED:
            target.acknowledged_by = event.actor

    # -- questions the engine and the views ask ----------------------------------------------
    def unsettled(self) -> list[tuple[Message, TargetState]]:
        return [
            (m, t)
            for m in self.messages.values()
            for t in m.targets.values()
            if t.status not in SETTLED
        ]

    def abandoned(self) -> list[tuple[Message, TargetState]]:
        """Deliveries given up and not acknowledged yet (shown until they are)."""
        return [
            (m, t)
            for m in self.messages.values()
            for t in m.targets.values()
            if t.status == "abandoned" and not t.acknowledged_by
        ]

    def last_queued(self, rule: str, audience: str) -> Message | None:
        found = [m for m in self.messages.values() if m.rule == rule and m.audience == audience]
        return max(found, key=lambda m: m.seq) if found else None

    def last_delivered_at(self, audience: str) -> datetime | None:
        """When `audience` last got an update (any rule; a test does not count)."""
        times = [
            m.delivered_at
            for m in self.messages.values()
            if m.audience == audience and not m.test and m.delivered_at is not None
        ]
        return max(t for t in times if t is not None) if times else None

    def overdue_reported(self, rule: str, audience: str, since: str) -> bool:
        return any(
            o.get("rule") == rule and o.get("audience") == audience and o.get("since") == since
            for o in self.overdue
        )


def only_comms(events: Iterable[Event]) -> bool:
    """Whether these events are all the comms engine's bookkeeping (they change no step, no
    gate, nothing but the ledger and the head): a view may pick them up on its next tick
    instead of at once. False for none."""
    found = False
    for event in events:
        if event.kind not in KINDS:
            return False
        found = True
    return found


class CommsFollower:
    """A journal's comms ledger, kept current by the thread that folds the journal's new events
    (a session's follower), with a version that moves with every change: a view redraws on a
    version it has not drawn, and never reads the journal itself."""

    def __init__(self, ledger: CommsLedger | None = None) -> None:
        self.ledger = ledger if ledger is not None else CommsLedger()
        self.version = 0

    @classmethod
    def of_journal(cls, reader: JournalReader, head_seq: int) -> CommsFollower:
        """The ledger of the comms events up to `head_seq` (the fold's head), read from
        `reader` in one pass that parses no other payload."""
        found = reader.events_of(tuple(sorted(KINDS)))
        ledger = CommsLedger.of(e for e in found if e.seq <= head_seq)
        ledger.head_seq = max(ledger.head_seq, head_seq)
        return cls(ledger)

    def fold(self, events: Iterable[Event]) -> bool:
        """Fold new events in (any kind); True when the comms changed."""
        changed = self.ledger.fold(events)
        self.version += changed
        return changed
