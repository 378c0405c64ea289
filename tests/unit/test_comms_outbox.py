"""The outbox (issue 22): which updates a decision or an engine's observations cause, queued in
the same transaction as what causes them, and only on the transition."""

from __future__ import annotations

from pathlib import Path

from support import PLANS

from cutover_console.clock import ManualClock
from cutover_console.journal import Actor, JournalReader
from cutover_console.journal import events as ev
from cutover_console.plan import load_plan
from cutover_console.runbook import Cutover
from cutover_console.service.lead import create_journal

ENGINE = Actor("engine:dns", "test")
PLAN = (
    (PLANS / "comms.yaml")
    .read_text()
    .replace(
        "  updates:\n",
        "  updates:\n"
        "    - {id: flipped, on: dns_flipped, audiences: [support], template: status}\n",
    )
    .replace(
        "comms:\n",
        "dns:\n  records:\n"
        "    - {name: up.example.test, old: [192.0.2.1], new: [192.0.2.2]}\ncomms:\n",
    )
)


def cutover(tmp_path: Path) -> Cutover:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    from datetime import UTC, datetime

    clock = ManualClock(datetime(2026, 12, 5, 9, 0, tzinfo=UTC))
    return Cutover(create_journal(tmp_path / "j.sqlite", load_plan(plan), clock=clock), clock)


def queued(c: Cutover) -> list[tuple[int, str, dict]]:  # type: ignore[type-arg]
    with JournalReader(c.writer.path) as reader:
        return [(e.seq, e.ts, e.payload) for e in reader.events() if e.kind == ev.COMMS_QUEUED]


def record(percent: float) -> tuple[str, dict, Actor, None]:  # type: ignore[type-arg]
    return (ev.DNS_RECORD, {"record": "up.example.test/A", "percent_new": percent}, ENGINE, None)


def test_every_resolver_flipped_is_queued_once_with_the_observation(tmp_path: Path) -> None:
    c = cutover(tmp_path)
    c.record_many([record(50.0)])
    assert queued(c) == []
    c.record_many([record(100.0)])
    found = queued(c)
    assert len(found) == 1 and found[0][2]["trigger"]["kind"] == "dns_flipped"
    assert found[0][0] == c.state.head_seq  # right after the observation, in its batch
    c.record_many([record(100.0)])  # still 100: no transition, nothing new
    assert len(queued(c)) == 1


def test_a_failed_go_no_go_is_a_no_go_update_and_a_replay_queues_nothing(tmp_path: Path) -> None:
    c = cutover(tmp_path)
    c.start("gng", "lena")
    event = c.fail("gng", "lena", "the new side is not ready", idem="k1")
    found = queued(c)
    assert [p["audience"] for _s, _t, p in found] == ["client", "support", "support"]
    assert all(ts == event.ts for _s, ts, _p in found)
    assert "NO-GO" in found[0][2]["trigger"]["text"]
    c.fail("gng", "lena", "the new side is not ready", idem="k1")  # the same request again
    assert len(queued(c)) == 3
