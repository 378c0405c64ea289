"""A journal that fills every pane, on a manual clock: for the snapshots and Pilot tests of the
polished console (issue 15). Deterministic: every time comes from the clock, local time is UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support import SMALL

from cutover_console.clock import ManualClock, format_ts
from cutover_console.journal import Actor, JournalWriter
from cutover_console.plan import load_plan
from cutover_console.runbook import Cutover

T0 = datetime(2026, 12, 6, 12, 40, tzinfo=UTC)  # Sunday 06:40 in Chicago
DNS = Actor("engine:dns", "cutover")
FLOWS = Actor("engine:flows", "cutover")

FLOWS_YAML = """
flows:
  - id: uploads
    title: Shop uploads
    system: wcf
    late_after: 20m
    sites: true
    old: {kind: sqlite, id: old-uploads, path: old.db, query: "SELECT site, MAX(at) FROM u"}
    new: {kind: sqlite, id: new-uploads, path: new.db, query: "SELECT site, MAX(at) FROM u"}
"""


def console_plan(directory: Path) -> Path:
    """The small plan with a data flow, so the Flows pane has rows."""
    plan = directory / "console.yaml"
    plan.write_text(SMALL.read_text() + FLOWS_YAML)
    return plan


def fill_journal(path: Path, *, finished: bool = False) -> tuple[ManualClock, Path]:
    """Saturday done, the DNS switch under way, engines' evidence and log lines; with
    `finished`, every step done (the end of the cutover)."""
    plan = console_plan(path.parent)
    document = load_plan(plan)
    clock = ManualClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    writer = JournalWriter.create(
        path,
        document.text,
        document.sha256,
        document.file,
        Actor("lena", "ops"),
        cutover_id="small-cutover",
        clock=clock,
    )
    cutover = Cutover(writer, clock)
    for step, who, signers in (("freeze", "omar", ()), ("backup", "dmitri", ("dmitri", "ravi"))):
        clock.advance(timedelta(minutes=20))
        cutover.start(step, who)
        for person in signers:
            cutover.signoff(step, person)
        clock.advance(timedelta(minutes=25))
        cutover.complete(step, who)
    clock.set(datetime(2026, 12, 6, 12, 5, tzinfo=UTC))
    cutover.start("dns-switch", "nia")
    seen = format_ts(clock.now())
    record = "upload.small.test/A"
    writer.append("dns.authority", {"record": record, "status": "new"}, actor=DNS, step=None)
    writer.append(
        "dns.record",
        {
            "record": record,
            "percent_new": 50.0,
            "new": 1,
            "healthy": 2,
            "old": 1,
            "failed": 1,
            "eta": format_ts(clock.now() + timedelta(minutes=9)),
        },
        actor=DNS,
    )
    for resolver, status, answers, flags in (
        ("lab-a", "new", ["203.0.113.20"], []),
        ("lab-sticky", "old", ["198.51.100.10"], ["ttl-not-decreasing", "serve-stale"]),
        ("lab-dead", "timeout", [], []),
    ):
        writer.append(
            "dns.verdict",
            {
                "record": record,
                "resolver": resolver,
                "status": status,
                "answers": answers,
                "ttl": 300 if answers else None,
                "observed_at": seen,
                "flips_by": format_ts(clock.now() + timedelta(minutes=9)),
                "flags": flags,
            },
            actor=DNS,
        )
    for side, status in (("old", "dead"), ("new", "healthy")):
        writer.append(
            "flow.state",
            {"flow": "uploads", "side": side, "status": status, "last_seen": seen},
            actor=FLOWS,
        )
    for site, status in (("shop-001", "moved"), ("shop-002", "straggler")):
        writer.append(
            "flow.site",
            {
                "flow": "uploads",
                "site": site,
                "status": status,
                "last_old": seen,
                "first_new": seen if status == "moved" else None,
                "last_new": seen if status == "moved" else None,
            },
            actor=FLOWS,
        )
    writer.append_log_lines(
        [
            (seen, "iis-new", "new", "INFO", "POST /upload 200 shop-001"),
            (seen, "iis-old", "old", "ERROR", "POST /upload 500 shop-002"),
        ]
    )
    cutover.record_gate("dns-switch", "authority-new", False, "ns2 still serves serial 41", {})
    cutover.signoff("dns-switch", "lena")
    cutover.note("Bridge call open; client observer joined.", "lena")
    if finished:
        cutover.record_gate("dns-switch", "authority-new", True, "every authority is new", {})
        cutover.signoff("dns-switch", "nia")
        cutover.complete("dns-switch", "nia", confirmed="typed dns-switch")
        clock.advance(timedelta(minutes=5))
        cutover.start("verify-new", "omar")
        cutover.override_gate("verify-new", "dns-propagated", "lena", "checked by hand")
        clock.advance(timedelta(minutes=30))
        cutover.complete("verify-new", "omar")
        cutover.start("announce", "lena")
        cutover.signoff("announce", "cleo")
        clock.advance(timedelta(minutes=5))
        cutover.complete("announce", "lena")
    writer.close()
    clock.set(T0 if not finished else clock.now() + timedelta(minutes=1))
    return clock, plan
