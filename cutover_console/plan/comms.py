"""The plan's `comms:` section: who hears from the cutover (audiences and their channels), when
(update rules: a cadence, a daily time, decision events) and what (templates).

Channels are Apprise URLs, and those carry secrets (SMTP passwords, webhook tokens), so a plan
names them only through `env:NAME` or `file:/path` references; the cross-section checks
(`comms_checks.py`) refuse a URL written inline and a template that uses an unknown field.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from .durations import Duration
from .problems import clip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_Ident = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


def _clock_time(value: object) -> time:
    match = (
        re.fullmatch(r"([01][0-9]|2[0-3]):([0-5][0-9])", value) if isinstance(value, str) else None
    )
    if match is None:
        raise PydanticCustomError(
            "plan",
            '{value} is not a time of day (write it quoted, as "08:00")',
            {"value": clip(repr(value), 40)},
        )
    return time(int(match.group(1)), int(match.group(2)))


_Duration = Duration
ClockTime = Annotated[time, BeforeValidator(_clock_time)]

# The decisions an update can follow (`on:`). Each is recognised in the event that records it,
# and the update is queued in that event's own transaction (the outbox).
CommsTrigger = Literal[
    "go_no_go",  # a go/no-go step completed (GO) or failed (NO-GO)
    "step_done",  # the step named in `step:` completed
    "point_of_no_return",  # the point-of-no-return step completed
    "rollback_started",  # a step was rolled back
    "step_failed",  # any step failed
    "gate_overridden",  # a lead overrode a gate
    "cutover_finished",  # the last open step finished
    "dns_flipped",  # every record answers new on every healthy resolver (the DNS engine says)
    "stragglers_drained",  # the last straggling site left the old side (the flow engine says)
]
COMMS_TRIGGERS: tuple[str, ...] = CommsTrigger.__args__  # type: ignore[attr-defined]

# What a template may use: the status summary, flattened to names a stakeholder template reads.
TEMPLATE_FIELDS: dict[str, str] = {
    "cutover": "the cutover's name",
    "client": "the client",
    "now": "when the message was written (the client's time zone)",
    "done": "steps finished",
    "total": "steps in the plan",
    "in_progress": "titles of the steps running now, comma-separated",
    "next": "titles of the next steps to start, comma-separated",
    "dns_percent_new": "the lowest % of resolvers answering new, over the plan's records",
    "sites_on_old": "sites still seen on the old side",
    "sites_on_new": "sites seen on the new side",
    "forecast_end": "forecast end of the cutover",
    "window_end": "end of the change window",
    "fits_window": "'yes' or 'no': the forecast ends within the window",
    "rollback_possible_until": "until when a rollback is possible ('passed' after it)",
    "checkpoint": "the journal checkpoint to quote (seq:hash)",
    "trigger": "what caused this update (a decision, the schedule, the lead)",
    "step": "the title of the step that caused it (empty for the schedule)",
    "audience": "the audience's name",
    "message_id": "this message's id (also in the X-Cutover-Message header)",
    "no_change_since": "for a 'no change' update: since when nothing changed (else empty)",
}


class Audience(_Strict):
    id: _Ident
    name: str = ""
    # each an env:NAME or file:/path reference to an Apprise URL (or an Apprise config file)
    channels: list[str] = Field(min_length=1)


class Template(_Strict):
    id: _Ident
    title: str
    body: str


class UpdateRule(_Strict):
    """When an update goes out: exactly one of `every`, `daily` or `on`."""

    id: _Ident
    every: _Duration | None = None
    daily: ClockTime | None = None
    on: CommsTrigger | None = None
    step: _Ident | None = None  # for `on: step_done`
    grace: _Duration = timedelta(minutes=10)  # an `every:` update is overdue after cadence+grace
    audiences: list[_Ident] = Field(min_length=1)
    template: _Ident

    @model_validator(mode="after")
    def _one_when(self) -> UpdateRule:
        given = [n for n in ("every", "daily", "on") if getattr(self, n) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "plan",
                "give exactly one of `every`, `daily` or `on` (found {found})",
                {"found": ", ".join(given) or "none"},
            )
        if self.every is not None and self.every < timedelta(minutes=1):
            raise PydanticCustomError("plan", "`every` must be at least 1m", {"item": ("every",)})
        if (self.on == "step_done") != (self.step is not None):
            raise PydanticCustomError(
                "plan",
                "`step` goes with `on: step_done`, and `on: step_done` needs it",
                {"item": ("step",)},
            )
        return self


class CommsSection(_Strict):
    audiences: list[Audience] = Field(min_length=1)
    templates: list[Template] = Field(min_length=1)
    updates: list[UpdateRule] = Field(default_factory=list)
    retries: int = Field(default=3, ge=0, le=10)  # attempts after the first, per target
    backoff: _Duration = timedelta(seconds=5)  # doubled after each failed attempt
    timeout: _Duration = timedelta(seconds=20)  # one attempt at one target, at most

    def audience(self, audience_id: str) -> Audience:
        return next(a for a in self.audiences if a.id == audience_id)

    def template(self, template_id: str) -> Template:
        return next(t for t in self.templates if t.id == template_id)


class StepComms(_Strict):
    """What a step of `kind: comms` sends when it is completed (after a preview)."""

    template: _Ident
    audiences: list[_Ident] = Field(min_length=1)
