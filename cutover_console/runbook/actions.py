"""The lead's actions on a cutover: check the rules, journal the event, fold it in.

An action either raises `ActionRefused` (nothing written) or returns the journaled event; the state
is updated only from that event, so what the screen shows is what the journal holds.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ..clock import Clock
from ..journal import Actor, Event, JournalReader, JournalWriter, Replayed, payloads
from ..journal import events as ev
from ..plan import PlanDocument
from ..plan.model import Person, Step
from ..signoffs import Presented, signature_required
from ..untrusted import quoted
from . import signing
from .fold import CutoverState
from .outbox import decision_updates, signal_updates
from .rules import (
    Refusal,
    completion_blockers,
    is_lead,
    may_drive,
    person_or_refusal,
    ponr_refusal,
    signoff_refusals,
    start_blockers,
    transition_refusal,
)
from .signing import frozen_evidence
from .snapshot import resume_state

# The comms engine's own events (an outbox entry, a delivery) are an engine's, not a person's:
# the Journal pane shows them with the other engines' (key e), not among people's decisions.
COMMS_ENGINE = Actor("engine:comms", "cutover")


class ActionRefused(Exception):
    """The action broke a rule. `refusals` says which; overridable ones name how to override."""

    def __init__(self, action: str, step: str | None, refusals: list[Refusal]) -> None:
        self.action = action
        self.step = step
        self.refusals = refusals
        where = f" {quoted(step)}" if step else ""
        lines = [f"refused: {action}{where}"] + [f"  - {r.message}" for r in refusals]
        if refusals and all(r.overridable for r in refusals):
            lines.append("  a lead may override with --override REASON (marked forever)")
        super().__init__("\n".join(lines))


def load_state(reader: JournalReader) -> CutoverState:
    return CutoverState.from_events(reader.events())


class Cutover:
    """A cutover being driven: a journal writer plus the state folded from it."""

    def __init__(self, writer: JournalWriter, clock: Clock) -> None:
        self.writer = writer
        self.clock = clock
        self.state = resume_state(writer)  # from the fold snapshot beside it when it matches
        # Held while the state changes. Only the thread that writes the journal mutates the
        # state, so it reads without the lock; views on other threads take it to read.
        self.state_lock: threading.RLock | contextlib.nullcontext[None] = contextlib.nullcontext()
        self._os_user: str | None = None  # see on_behalf_of

    @contextlib.contextmanager
    def on_behalf_of(self, os_user: str) -> Iterator[None]:
        """Record the actions taken inside as done from the OS account `os_user` (the journal
        service's peer, read from its socket) instead of this process's own."""
        before, self._os_user = self._os_user, os_user
        try:
            yield
        finally:
            self._os_user = before

    # -- helpers ---------------------------------------------------------------------------
    def _step(self, action: str, step_id: str) -> Step:
        try:
            return self.state.plan.step(step_id)
        except KeyError:
            known = ", ".join(s.id for s in self.state.plan.steps[:8])
            raise ActionRefused(
                action,
                step_id,
                [Refusal("step", f"no step {quoted(step_id)} in the plan (e.g. {known}, …)")],
            ) from None

    def _person(self, action: str, step_id: str | None, person_id: str) -> Person:
        found = person_or_refusal(self.state, person_id)
        if isinstance(found, Refusal):
            raise ActionRefused(action, step_id, [found])
        return found

    def _record(
        self, kind: str, person: str, payload: dict[str, Any], step: str | None, idem: str | None
    ) -> Event:
        payloads.check(kind, payload)  # every path to the journal: the service, a direct write
        actor = Actor(person, self._os_user) if self._os_user else Actor.here(person)
        seq = self.state.head_seq + 1  # the writer's head too: only this thread writes
        then = [
            (ev.COMMS_QUEUED, update, COMMS_ENGINE, step)
            for update in decision_updates(self.state, kind, step, seq)
        ]
        event = self.writer.append(kind, payload, actor=actor, step=step, idem=idem, then=then)
        chained = self.writer.last_appended if event.seq == seq and then else [event]
        with self.state_lock:
            for item in chained:
                if item.seq > self.state.head_seq:
                    self.state.apply(item)
        return event

    def queue_updates(self, updates: list[dict[str, Any]], by: str) -> list[Event]:
        """Updates the lead or the schedule asked for (`comms.queued`, one transaction)."""
        if by != COMMS_ENGINE.person:
            self._person("send update", None, by)
        actor = Actor(by, self._os_user) if self._os_user else Actor.here(by)
        return self._apply_many([(ev.COMMS_QUEUED, u, actor, None) for u in updates])

    def record_comms(self, kind: str, payload: dict[str, Any], by: str = "engine:comms") -> Event:
        """The comms engine's report: a rendering, an attempt and its outcome, an overdue
        update, an acknowledgement."""
        return self._record(kind, by, payload, None, None)

    def _apply_many(
        self, items: list[tuple[str, dict[str, Any], Actor, str | None]]
    ) -> list[Event]:
        events = self.writer.append_many(items)
        with self.state_lock:
            for event in events:
                self.state.apply(event)
        return events

    def record_many(self, items: list[tuple[str, dict[str, Any], Actor, str | None]]) -> int:
        """Engines' observations: one durable transaction, folded into the state at once (with
        the stakeholder updates a transition among them causes: every resolver flipped, the
        stragglers drained)."""
        for kind, payload, _actor, _step in items:
            payloads.check(kind, payload)
        updates = signal_updates(self.state, items)
        if updates:
            items = [*items, *((ev.COMMS_QUEUED, u, COMMS_ENGINE, None) for u in updates)]
        events = self.writer.append_many(items)
        with self.state_lock:  # views read under this lock; the fsync above is outside it
            for event in events:
                self.state.apply(event)
        return len(events)

    def _replay(
        self,
        action: str,
        idem: str | None,
        kind: str,
        by: str,
        step_id: str | None,
        given: dict[str, Any],
    ) -> Event | None:
        """A retry of a command already recorded under `idem`: answered with that event, before
        any rule (the first attempt changed what the rules now say). A key that holds another
        command (kind, step, person, or a value given here) is refused, naming its event. Values
        left out of the retry are not compared, nor is an override the first attempt did not
        need."""
        if idem is None:
            return None
        held = self.writer.by_idem(idem)
        if held is None:
            return None
        differs = [
            name
            for name, mine, theirs in (
                ("action", kind, held.kind),
                ("step", step_id, held.step),
                ("person", by, held.actor),
            )
            if mine != theirs
        ]
        for key, value in given.items():
            if value is None or (key == "override_reason" and key not in held.payload):
                continue
            if held.payload.get(key) != value:
                differs.append(key.replace("_", " "))
        if differs:
            about = f" of '{held.step}'" if held.step else ""
            raise ActionRefused(
                action,
                step_id,
                [
                    Refusal(
                        "idempotency",
                        f"the idempotency key {quoted(idem, limit=200)} already holds event "
                        f"{held.seq} "
                        f"({held.kind}{about} by {held.actor}); this {action} differs in "
                        f"{', '.join(differs)}: nothing recorded, use a new key",
                    )
                ],
            )
        return held if isinstance(held, Replayed) else Replayed.of(held)

    def _decide(
        self,
        action: str,
        step_id: str | None,
        person: Person,
        refusals: list[Refusal],
        override: str | None,
    ) -> list[str]:
        """Raise unless every refusal may be and is overridden; return the overridden rules."""
        if not refusals:
            return []
        absolute = [r for r in refusals if not r.overridable]
        if absolute or override is None:
            raise ActionRefused(action, step_id, refusals)
        if not override.strip():
            raise ActionRefused(
                action, step_id, [Refusal("override", "an override needs a reason")]
            )
        if not is_lead(person):
            raise ActionRefused(
                action,
                step_id,
                [
                    *refusals,
                    Refusal("override", f"only a lead may override; {person.id} is not one"),
                ],
            )
        return [f"{r.rule}: {r.message}" for r in refusals]

    def _drive(self, action: str, step: Step, person: Person) -> list[Refusal]:
        out: list[Refusal] = []
        refusal = transition_refusal(self.state.steps[step.id], action)
        if refusal:
            out.append(refusal)
        if not may_drive(step, person):
            out.append(
                Refusal("owner", f"{person.id} is neither the owner ({step.owner}) nor a lead")
            )
        return out

    @staticmethod
    def _need_reason(action: str, step_id: str | None, reason: str | None) -> str:
        if reason is None or not reason.strip():
            raise ActionRefused(action, step_id, [Refusal("reason", f"{action} needs a reason")])
        return reason.strip()

    @property
    def now(self) -> datetime:
        return self.clock.now()

    # -- the actions -----------------------------------------------------------------------
    def start(
        self, step_id: str, by: str, *, override: str | None = None, idem: str | None = None
    ) -> Event:
        if done := self._replay(
            "start", idem, ev.STEP_STARTED, by, step_id, {"override_reason": _text(override)}
        ):
            return done
        step, person = self._step("start", step_id), self._person("start", step_id, by)
        refusals = self._drive("start", step, person)
        if not refusals:
            refusals = start_blockers(self.state, step, self.now)
        overridden = self._decide("start", step_id, person, refusals, override)
        return self._record(
            ev.STEP_STARTED, by, _with_overrides({}, overridden, override), step_id, idem
        )

    def complete(
        self,
        step_id: str,
        by: str,
        *,
        override: str | None = None,
        idem: str | None = None,
        confirmed: str | None = None,
    ) -> Event:
        """Complete a running step. `confirmed`: what the person was shown and accepted before
        passing the point of no return (the console asks), kept in the event."""
        if done := self._replay(
            "complete", idem, ev.STEP_COMPLETED, by, step_id, {"override_reason": _text(override)}
        ):
            return done
        step, person = self._step("complete", step_id), self._person("complete", step_id, by)
        refusals = self._drive("complete", step, person)
        if not refusals:
            refusals = completion_blockers(self.state, step)
        overridden = self._decide("complete", step_id, person, refusals, override)
        payload: dict[str, Any] = {"planned_duration_s": step.duration.total_seconds()}
        if confirmed:
            payload["point_of_no_return_confirmed"] = confirmed
        return self._record(
            ev.STEP_COMPLETED, by, _with_overrides(payload, overridden, override), step_id, idem
        )

    def fail(self, step_id: str, by: str, reason: str | None, *, idem: str | None = None) -> Event:
        if done := self._replay(
            "fail", idem, ev.STEP_FAILED, by, step_id, {"reason": _text(reason)}
        ):
            return done
        step, person = self._step("fail", step_id), self._person("fail", step_id, by)
        text = self._need_reason("fail", step_id, reason)
        self._decide("fail", step_id, person, self._drive("fail", step, person), None)
        return self._record(ev.STEP_FAILED, by, {"reason": text}, step_id, idem)

    def skip(self, step_id: str, by: str, reason: str | None, *, idem: str | None = None) -> Event:
        if done := self._replay(
            "skip", idem, ev.STEP_SKIPPED, by, step_id, {"reason": _text(reason)}
        ):
            return done
        step, person = self._step("skip", step_id), self._person("skip", step_id, by)
        text = self._need_reason("skip", step_id, reason)
        self._decide("skip", step_id, person, self._drive("skip", step, person), None)
        return self._record(ev.STEP_SKIPPED, by, {"reason": text}, step_id, idem)

    def reopen(
        self, step_id: str, by: str, reason: str | None, *, idem: str | None = None
    ) -> Event:
        if done := self._replay(
            "reopen", idem, ev.STEP_REOPENED, by, step_id, {"reason": _text(reason)}
        ):
            return done
        step, person = self._step("reopen", step_id), self._person("reopen", step_id, by)
        text = self._need_reason("reopen", step_id, reason)
        self._decide("reopen", step_id, person, self._drive("reopen", step, person), None)
        return self._record(ev.STEP_REOPENED, by, {"reason": text}, step_id, idem)

    def rollback(
        self,
        step_id: str,
        by: str,
        reason: str | None,
        *,
        override: str | None = None,
        idem: str | None = None,
    ) -> Event:
        given = {"reason": _text(reason), "override_reason": _text(override)}
        if done := self._replay("rollback", idem, ev.STEP_ROLLED_BACK, by, step_id, given):
            return done
        step, person = self._step("rollback", step_id), self._person("rollback", step_id, by)
        text = self._need_reason("rollback", step_id, reason)
        refusals = self._drive("rollback", step, person)
        ponr = ponr_refusal(self.state)
        if not refusals and ponr is not None:
            refusals = [ponr]
        overridden = self._decide("rollback", step_id, person, refusals, override)
        return self._record(
            ev.STEP_ROLLED_BACK,
            by,
            _with_overrides({"reason": text}, overridden, override),
            step_id,
            idem,
        )

    def signoff(
        self,
        step_id: str,
        by: str,
        *,
        role: str | None = None,
        idem: str | None = None,
        signed: Presented | None = None,
    ) -> Event:
        """Record a sign-off; with `signed`, only once the signature holds (signoffs.verdict)."""
        if done := self._replay("sign off", idem, ev.STEP_SIGNED_OFF, by, step_id, {"role": role}):
            return done
        step, person = self._step("sign off", step_id), self._person("sign off", step_id, by)
        current = self.state.steps[step_id]
        refusal = transition_refusal(current, "signoff")
        if refusal:
            raise ActionRefused("sign off", step_id, [refusal])
        if signed is not None and role is None:  # the role the signer saw in the statement
            role = signing.statement_role(signed)
        refusals, signed_role = signoff_refusals(self.state, step, person, role)
        if refusals:
            raise ActionRefused("sign off", step_id, refusals)
        payload: dict[str, Any] = {"role": signed_role, "evidence": frozen_evidence(current)}
        if signed is not None:
            record = signing.check(
                self.state, self.writer.path, step_id, by, signed_role, signed, self.clock.now()
            )
            if isinstance(record, Refusal):
                raise ActionRefused("sign off", step_id, [record])
            payload["signed"] = record
        elif signature_required(self.state.plan, step):
            raise ActionRefused(
                "sign off",
                step_id,
                [
                    Refusal(
                        "signature_missing",
                        f"'{step_id}' needs a sign-off signed with {by}'s own SSH key; "
                        f"{by} runs: {signing.how_to_sign(step_id, by)}",
                    )
                ],
            )
        return self._record(ev.STEP_SIGNED_OFF, by, payload, step_id, idem)

    def signoff_statement(self, step_id: str, by: str, *, role: str | None = None) -> str:
        """A statement for `by` to sign (checked like the sign-off itself; nothing journaled)."""
        step, person = self._step("sign off", step_id), self._person("sign off", step_id, by)
        refusal = transition_refusal(self.state.steps[step_id], "signoff")
        if refusal:
            raise ActionRefused("sign off", step_id, [refusal])
        refusals, signed_role = signoff_refusals(self.state, step, person, role)
        if refusals:
            raise ActionRefused("sign off", step_id, refusals)
        if not self.state.document.keys.get(by):
            raise ActionRefused(
                "sign off",
                step_id,
                [Refusal("signature_key", f"the plan lists no SSH key for {by} (people[].keys)")],
            )
        statement = signing.issue(
            self.state, self.writer.path, step_id, by, signed_role, self.clock.now()
        )
        return statement.text()

    def note(
        self, text: str, by: str, *, step_id: str | None = None, idem: str | None = None
    ) -> Event:
        if done := self._replay("note", idem, ev.NOTE_ADDED, by, step_id, {"text": text}):
            return done
        self._person("note", step_id, by)
        if step_id is not None:
            self._step("note", step_id)
        if not text.strip():
            raise ActionRefused("note", step_id, [Refusal("note", "the note is empty")])
        return self._record(ev.NOTE_ADDED, by, {"text": text}, step_id, idem)

    def override_gate(
        self, step_id: str, gate_id: str, by: str, reason: str | None, *, idem: str | None = None
    ) -> Event:
        given = {"gate": gate_id, "reason": _text(reason)}
        if done := self._replay("override gate", idem, ev.GATE_OVERRIDDEN, by, step_id, given):
            return done
        step, person = (
            self._step("override gate", step_id),
            self._person("override gate", step_id, by),
        )
        text = self._need_reason("override gate", step_id, reason)
        gates = [g.id for g in step.gates]
        if gate_id not in gates:
            raise ActionRefused(
                "override gate",
                step_id,
                [
                    Refusal(
                        "gate",
                        f"step {quoted(step_id)} has no gate {quoted(gate_id)} "
                        f"(gates: {', '.join(map(str, gates)) or 'none'})",
                    )
                ],
            )
        if not is_lead(person):
            raise ActionRefused(
                "override gate",
                step_id,
                [Refusal("override", f"only a lead may override a gate; {person.id} is not one")],
            )
        return self._record(
            ev.GATE_OVERRIDDEN, by, {"gate": gate_id, "reason": text}, step_id, idem
        )

    def check_action(self, step_id: str, by: str) -> Step:
        """May `by` run the step's automated action now? Raises ActionRefused if not."""
        step, person = self._step("run action", step_id), self._person("run action", step_id, by)
        if step.action is None:
            raise ActionRefused(
                "run action",
                step_id,
                [Refusal("action", f"step '{step_id}' has no automated action")],
            )
        refusals = []
        if self.state.steps[step_id].status != "in_progress":
            refusals.append(Refusal("transition", f"start '{step_id}' before running its action"))
        if not may_drive(step, person):
            refusals.append(
                Refusal("owner", f"{by} is neither the owner ({step.owner}) nor a lead")
            )
        if refusals:
            raise ActionRefused("run action", step_id, refusals)
        return step

    def record_action(self, step_id: str, by: str, result: dict[str, Any]) -> Event:
        """Journal what an automated action did (exit status, output tail, timing)."""
        self.check_action(step_id, by)
        return self._record(ev.ACTION_RAN, by, result, step_id, None)

    def record_archive(self, kind: str, payload: dict[str, Any]) -> Event:
        """The witness publisher's report: checkpoints it published, a fault, a recovery."""
        return self._record(kind, "system", payload, None, None)

    def record_watcher(self, connected: bool, viewer: dict[str, Any]) -> Event:
        """A teammate started or stopped watching (key fingerprint and comment, from where)."""
        kind = ev.WATCHER_CONNECTED if connected else ev.WATCHER_DISCONNECTED
        return self._record(kind, "system", viewer, None, None)

    def record_gate(
        self,
        step_id: str,
        gate_id: str,
        ok: bool,
        detail: str,
        evidence: dict[str, Any],
        *,
        source: str = "engine",
    ) -> Event | None:
        """Evidence from an engine. Journaled only when the verdict or detail changes."""
        current = self.state.steps[step_id].gates.get(gate_id)
        if current is not None and current.ok == ok and current.detail == detail:
            return None
        return self._record(
            ev.GATE_EVALUATED,
            source,
            {"gate": gate_id, "ok": ok, "detail": detail, "evidence": evidence},
            step_id,
            None,
        )

    def revise_plan(self, document: PlanDocument, by: str, reason: str | None) -> Event | None:
        """Record a changed plan as a revision. Returns None when the text is unchanged."""
        self._person("revise plan", None, by)
        text = self._need_reason("revise plan", None, reason)
        if document.sha256 == self.state.document.sha256:
            return None
        missing = [
            s
            for s, st in self.state.steps.items()
            if st.status != "pending" and s not in {x.id for x in document.plan.steps}
        ]
        if missing:
            raise ActionRefused(
                "revise plan",
                None,
                [
                    Refusal(
                        "revision",
                        f"the revision drops steps that already have history: {', '.join(missing)}",
                    )
                ],
            )
        return self._record(
            ev.PLAN_REVISED,
            by,
            {
                "plan": {
                    "text": document.text,
                    "sha256": document.sha256,
                    "file": document.file.rsplit("/", 1)[-1],
                    **({"keys": document.keys} if document.keys else {}),
                },
                "previous_sha256": self.state.document.sha256,
                "reason": text,
            },
            None,
            None,
        )


def _text(value: str | None) -> str | None:
    """A reason as the journal stores it (stripped), for comparing a retry with it."""
    return value.strip() if value is not None and value.strip() else None


def _with_overrides(
    payload: dict[str, Any], overridden: list[str], reason: str | None
) -> dict[str, Any]:
    if overridden:
        payload = {**payload, "overrides": overridden, "override_reason": (reason or "").strip()}
    return payload
