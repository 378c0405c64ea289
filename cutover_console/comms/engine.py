"""The comms engine: sends what the outbox holds, and queues the scheduled updates.

It runs beside the DNS and flow engines (service/engines.py). Its loop only waits; every send runs
on a worker thread of its own pool (one per target in flight, so a target that never answers holds
one thread and delays no other), every journal write on the journal's thread.

For each target of each queued message: `comms.attempt` is journaled before the send, then
`comms.delivered` (the server's reply) or `comms.failed` (the reason, and the backoff before the
next attempt); after the last retry, `comms.abandoned`. The state is re-read from the journal when
the engine starts, so after a kill -9 what was queued and not delivered goes out, and what was
delivered never goes out again.

The one window for a duplicate: a server accepted a message and the process died before it
journaled `comms.delivered`. On restart the target is still "sending" (an attempt with no
outcome), so it is sent again, with the same X-Cutover-Message id for the receiver to drop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from ..clock import Clock
from ..journal import JournalReader
from ..journal import events as ev
from ..runbook import Cutover
from ..runbook.comms_ledger import CommsLedger, Message, TargetState
from ..runbook.outbox import queued_payload
from ..secrets import REDACT
from ..timestamps import format_ts
from . import delivery
from .preview import rendered_payload
from .render import Rendered, format_of

POLL = 0.2  # seconds between two looks at the journal's head (an int compare when idle)
MAX_IN_FLIGHT = 32  # threads sending at once; a never-answering server holds one
T = TypeVar("T")
JournalWrite = Callable[[Callable[[], Any]], object]


class CommsEngine:
    def __init__(
        self, cutover: Cutover, clock: Clock, journal: JournalWrite, base: Path | None = None
    ) -> None:
        comms = cutover.state.plan.comms
        assert comms is not None
        self.cutover, self.clock, self.journal, self.base = cutover, clock, journal, base
        self.comms = comms
        self.ledger = CommsLedger()
        self._pool = ThreadPoolExecutor(MAX_IN_FLIGHT, thread_name_prefix="comms-send")
        self._reading = ThreadPoolExecutor(1, thread_name_prefix="comms-read")
        self._reader: JournalReader | None = None
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._settled: set[tuple[str, str]] = set()  # settled here, maybe not folded yet
        self._queued: set[tuple[str, str, str]] = set()  # (rule, audience, due) queued here
        self.errors: list[str] = []
        self.schedule = True  # False: deliver only (a command's one-off run)

    # -- the loop ----------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self._catch_up()
                await self._render_new()
                self._start_deliveries()
                if self.schedule:
                    await self._schedule()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), POLL)
        finally:
            for task in self._tasks.values():
                task.cancel()
            for task in list(self._tasks.values()):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self._pool.shutdown(wait=False, cancel_futures=True)
            await asyncio.get_running_loop().run_in_executor(self._reading, self._close_reader)
            self._reading.shutdown(wait=False)

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()

    async def _catch_up(self) -> None:
        if self.cutover.state.head_seq == self.ledger.head_seq:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._reading, self._read)

    def _read(self) -> None:
        if self._reader is None:
            self._reader = JournalReader(self.cutover.writer.path)
        self.ledger.fold(self._reader.events(after=self.ledger.head_seq))

    async def _write(self, write: Callable[[], T]) -> T:
        """Run `write` on the journal's thread and wait for it."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(result)

        def job() -> None:
            try:
                result = write()
            except BaseException as exc:  # handed back to the waiting task
                loop.call_soon_threadsafe(settle, None, exc)
            else:
                loop.call_soon_threadsafe(settle, result, None)

        self.journal(job)
        return await done

    # -- rendering ---------------------------------------------------------------------------
    async def _render_new(self) -> None:
        for message in list(self.ledger.messages.values()):
            if message.rendered or message.render_error or message.settled:
                continue
            payload = await asyncio.get_running_loop().run_in_executor(
                self._pool, self._render, message
            )
            await self._record(ev.COMMS_RENDERED, payload)
            message.rendered = dict(payload.get("formats") or {})
            message.render_error = str(payload.get("error") or "")

    def _render(self, message: Message) -> dict[str, Any]:
        """The exact text of `message` in every format (read under the state's lock)."""
        return render_payload(self.cutover, self.clock.now(), message)

    # -- delivery ----------------------------------------------------------------------------
    def _start_deliveries(self) -> None:
        for message, target in self.ledger.unsettled():
            key = (message.id, target.target)
            if key in self._tasks or key in self._settled:
                continue
            if not message.rendered and not message.render_error:
                continue  # rendered on the next turn
            task = asyncio.create_task(self._deliver(message, target))
            self._tasks[key] = task
            task.add_done_callback(functools.partial(self._finished, key))

    def _finished(self, key: tuple[str, str], _task: asyncio.Task[None]) -> None:
        self._tasks.pop(key, None)

    async def _deliver(self, message: Message, target: TargetState) -> None:
        base = {"message": message.id, "target": target.target}
        try:
            if message.render_error:
                await self._journal_outcome(
                    ev.COMMS_ABANDONED, {**base, "reason": message.render_error[:300]}
                )
                return
            attempt = target.attempts
            backoff = self.comms.backoff.total_seconds()
            if target.status == "failed" and attempt:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
            loop = asyncio.get_running_loop()
            timeout = self.comms.timeout.total_seconds()
            while True:
                attempt += 1
                try:
                    urls = await loop.run_in_executor(
                        self._pool, delivery.resolve_channel, target.channel, self.base
                    )
                    fmt = format_of(urls[0])
                    shown = await loop.run_in_executor(self._pool, delivery.privacy_url, urls)
                except delivery.ChannelError as exc:
                    urls, fmt, shown, problem = [], "text", "", str(exc)
                else:
                    problem = ""
                await self._journal_outcome(
                    ev.COMMS_ATTEMPT, {**base, "attempt": attempt, "url": shown, "format": fmt}
                )
                if problem:
                    outcome = delivery.Outcome(False, "", REDACT(problem)[:300], shown)
                else:
                    text = message.rendered[fmt]
                    rendered = Rendered(text["title"], text["body"])
                    send = loop.run_in_executor(
                        self._pool, delivery.send, urls, rendered, fmt, message.id, timeout
                    )
                    try:
                        outcome = await asyncio.wait_for(send, timeout + 2)
                    except TimeoutError:
                        outcome = delivery.Outcome(
                            False, "", f"no answer within {timeout:g}s", shown
                        )
                if outcome.ok:
                    await self._journal_outcome(
                        ev.COMMS_DELIVERED, {**base, "attempt": attempt, "reply": outcome.reply}
                    )
                    return
                last = attempt > self.comms.retries
                wait = backoff * 2 ** (attempt - 1)
                failed = {**base, "attempt": attempt, "reason": outcome.reason}
                if outcome.reply:
                    failed["reply"] = outcome.reply
                if not last:
                    failed["retry_in_s"] = wait
                await self._journal_outcome(ev.COMMS_FAILED, failed)
                if last:
                    await self._journal_outcome(
                        ev.COMMS_ABANDONED,
                        {**base, "attempts": attempt, "reason": outcome.reason},
                    )
                    return
                await asyncio.sleep(wait)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a journal that cannot be written: shown, never a crash
            self.errors = [*self.errors[-19:], REDACT(f"{type(exc).__name__}: {exc}")[:300]]
            await asyncio.sleep(self.comms.backoff.total_seconds())  # then tried again

    async def _record(self, kind: str, payload: dict[str, Any]) -> None:
        def write() -> None:
            self.cutover.record_comms(kind, payload)

        await self._write(write)

    async def _journal_outcome(self, kind: str, payload: dict[str, Any]) -> None:
        await self._record(kind, payload)
        if kind in (ev.COMMS_DELIVERED, ev.COMMS_ABANDONED):
            self._settled.add((payload["message"], payload["target"]))

    # -- the schedule ------------------------------------------------------------------------
    async def _schedule(self) -> None:
        now = self.clock.now()
        plan = self.cutover.state.plan
        window = plan.cutover.window
        due: list[tuple[str, str, str, dict[str, Any]]] = []
        overdue: list[dict[str, Any]] = []
        finished = all(s.status in ("done", "skipped") for s in self.cutover.state.steps.values())
        for rule in self.comms.updates:
            for audience in rule.audiences:
                if rule.every is not None and window.start <= now <= window.end and not finished:
                    last = self.ledger.last_queued(rule.id, audience)
                    when = last.queued_at + rule.every if last else window.start
                    if now >= when:
                        text = f"Scheduled update (every {_every(rule.every)})"
                        due.append((rule.id, audience, format_ts(when), {"text": text}))
                    delivered = self.ledger.last_delivered_at(audience) or window.start
                    late = delivered + rule.every + rule.grace
                    since = format_ts(delivered)
                    mark = (rule.id, audience, f"overdue {since}")
                    if (
                        now > late
                        and not self.ledger.overdue_reported(rule.id, audience, since)
                        and mark not in self._queued
                    ):
                        self._queued.add(mark)
                        overdue.append(
                            {
                                "rule": rule.id,
                                "audience": audience,
                                "since": since,
                                "due_at": format_ts(late),
                            }
                        )
                if rule.daily is not None and now >= window.start:
                    local = now.astimezone(plan.zone)
                    at = datetime.combine(local.date(), rule.daily, tzinfo=plan.zone)
                    last = self.ledger.last_queued(rule.id, audience)
                    day = local.date().isoformat()
                    if now >= at and (last is None or last.trigger.get("day") != day):
                        text = f"Daily update ({rule.daily:%H:%M})"
                        due.append((rule.id, audience, day, {"text": text, "day": day}))
        fresh = [d for d in due if d[:3] not in self._queued]
        if fresh:
            for rule_id, audience, key, _ in fresh:
                self._queued.add((rule_id, audience, key))

            def queue() -> None:
                self._queue_scheduled(fresh)

            await self._write(queue)
        for payload in overdue:
            await self._record(ev.COMMS_OVERDUE, payload)

    def _queue_scheduled(self, due: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        """On the journal's thread: one transaction for every update due now."""
        plan = self.cutover.state.plan
        seq = self.cutover.state.head_seq + 1
        updates = []
        for rule_id, audience, _when, trigger in due:
            rule = next(r for r in self.comms.updates if r.id == rule_id)
            about = {"kind": "every" if rule.every else "daily", "seq": seq, **trigger}
            updates.append(queued_payload(plan, seq, rule_id, audience, rule.template, about))
        self.cutover.queue_updates(updates, "engine:comms")


def _every(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def render_payload(
    cutover: Cutover, now: datetime, message: Message | dict[str, Any]
) -> dict[str, Any]:
    """A `comms.rendered` payload: the message's text in every format, or why it failed."""
    queued = message if isinstance(message, dict) else _as_queued(message)
    with cutover.state_lock:
        return rendered_payload(cutover.state, now, queued)


def _as_queued(message: Message) -> dict[str, Any]:
    return {
        "message": message.id,
        "rule": message.rule,
        "audience": message.audience,
        "template": message.template,
        "trigger": message.trigger,
        "test": message.test,
        "no_change_since": message.no_change_since,
    }
