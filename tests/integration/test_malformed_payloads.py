"""Issue 20, item 1: any payload already in a journal's chain (written by an older service, a
hand-made tool, a bug) leaves every view standing. The fold keeps such an event in its place but
does not apply it; the report, `status`, the export and the console's view models name it as
malformed, never a traceback and never a value it smuggled in (a watcher's `at`, an action's
`by`)."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import SMALL, run_cli

from cutover_console.journal import Actor, JournalReader, payloads
from cutover_console.journal import events as ev
from cutover_console.plan import load_plan
from cutover_console.report.document import build
from cutover_console.report.render import html_document, markdown
from cutover_console.runbook import CutoverState, status_summary
from cutover_console.service.lead import create_journal

pytestmark = pytest.mark.integration

# every kind the journal knows (those with a schema and those without: comms, vantage…), so that
# a reader added for a new kind is tried with any payload too
KINDS = sorted(
    {v for k, v in vars(ev).items() if k.isupper() and isinstance(v, str) and "." in v}
    - {ev.JOURNAL_CREATED}
)
STEPS = [None, "freeze", "backup", "dns-switch", "no-such-step", "\x1b[2J"]
# the names the fold, the reports and the views read, so that the payloads hit them
KEYS = sorted(
    [
        "at",
        "seq",
        # comms, vantage and signed sign-offs
        *("message", "target", "targets", "audience", "rule", "template", "trigger", "formats"),
        *("attempt", "url", "format", "reply", "retry_at", "since", "no_change_since", "test"),
        *("point", "answers", "ttl", "country", "network", "asn", "city", "source", "fault"),
        *("signed", "statement", "sshsig"),
        "by",
        "kind",
        "text",
        "reason",
        "role",
        "evidence",
        "overrides",
        "override_reason",
        "gate",
        "ok",
        "detail",
        "record",
        "resolver",
        "flow",
        "side",
        "site",
        "status",
        "reconciliation",
        "fingerprint",
        "comment",
        "peer",
        "duration_s",
        "exit",
        "output",
        "changes",
        "preview",
        "location",
        "checkpoints",
        "archived_seq",
        "fault",
        "plan",
        "percent",
        "timed_out",
        "command",
        "change_id",
        "error",
        "calls",
        "last_seen_old",
        "first_seen_new",
        "ttl",
        "answers",
        "flip_eta",
        "new_share",
    ]
)
HOSTILE = st.sampled_from(
    ["not-a-time", "2026-12-05T13:00:00+00:00", "\x1b[2J\x1b]52;c;aGk=\x07", "[@click=app.quit]x",
     "\u202e", "", "x" * 5000, "<script>", "NaN"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    HOSTILE,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(KEYS) | st.text(string.ascii_letters, max_size=5), inner, max_size=4
        )
    ),
    max_leaves=12,
)
PAYLOADS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8)
EVENTS = st.lists(
    st.tuples(st.sampled_from(KINDS), PAYLOADS, st.sampled_from(STEPS)), min_size=1, max_size=12
)
ME = Actor("lena", "tester")


def write_journal(path: Path, items: list[tuple[str, dict[str, Any], str | None]]) -> None:
    """A journal with a valid chain holding these events, put in by the writer itself (as a
    service of an older version would have)."""
    writer = create_journal(path, load_plan(SMALL))
    try:
        writer.append(ev.STEP_STARTED, {}, actor=ME, step="freeze")
        for kind, payload, step in items:
            writer.append(kind, payload, actor=ME, step=step)
        writer.append(ev.NOTE_ADDED, {"text": "after them"}, actor=ME)
    finally:
        writer.close()


def fold_and_show(path: Path) -> CutoverState:
    """Everything the views build from a fold, in this process."""
    from cutover_console.ui.model import DnsView, flows_view

    with JournalReader(path) as reader:
        events = list(reader.events())
    state = CutoverState.from_events(events)
    now = datetime(2026, 12, 6, tzinfo=UTC)
    json.dumps(status_summary(state, now), default=str)
    for status_only in (False, True):
        document = build(state, events, status_only=status_only)
        markdown(document)
        html_document(document)
    dns = DnsView(state.signals)
    for record in {r for r, _ in state.signals.dns_verdicts} | set(state.signals.dns_records):
        dns.statuses(record)
        dns.verdicts(record)
    flows_view(state.signals)
    for step in state.steps.values():
        for ran in step.actions:
            assert isinstance(ran["at"], datetime) and type(ran["seq"]) is int
            assert ran["by"] == ME.person
    for watcher in state.watchers:
        assert isinstance(watcher["at"], datetime) and type(watcher["seq"]) is int
    return state


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=EVENTS)
def test_any_payload_in_a_chain_folds_and_shows(tmp_path_factory: Any, items: Any) -> None:
    path = tmp_path_factory.mktemp("fold") / "j.sqlite"
    write_journal(path, items)
    state = fold_and_show(path)
    assert state.head_seq == len(items) + 3  # nothing dropped: the note after them is folded
    assert state.notes[-1].text == "after them"
    for bad in state.malformed:
        assert bad.kind in KINDS and bad.problem


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=EVENTS)
def test_any_payload_in_a_chain_leaves_report_status_and_export_standing(
    tmp_path_factory: Any, items: Any
) -> None:
    directory = tmp_path_factory.mktemp("cli")
    path = directory / "j.sqlite"
    write_journal(path, items)
    state = fold_and_show(path)
    commands = [
        ("report", "-j", str(path), "-o", str(directory / "r.md")),
        ("report", "-j", str(path), "-o", str(directory / "r.html")),
        ("status", "-j", str(path)),
        ("status", "-j", str(path), "--json"),
        ("events", "-j", str(path)),
        ("export", "-j", str(path), "-o", str(directory / "bundle"),
         "--sign-key", str(directory / "key")),
    ]  # fmt: skip
    for command in commands:
        result = run_cli(*command)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
    report = (directory / "r.md").read_text().replace("\\_", "_")
    status = run_cli("status", "-j", str(path)).stdout
    for bad in state.malformed:  # named by its event wherever the cutover is shown
        assert f"event {bad.seq} ({bad.kind})" in report
        assert f"event {bad.seq} ({bad.kind})" in status
    assert "Malformed" in (directory / "bundle" / "report.md").read_text() or not state.malformed


def test_a_watcher_record_that_smuggles_a_time_is_malformed_not_fatal(tmp_path: Path) -> None:
    """The example of the issue: `cutover report` exited 1 with AttributeError for good."""
    path = tmp_path / "j.sqlite"
    viewer = {"connected": False, "at": "not-a-time", "seq": "x", "comment": "raj"}
    write_journal(path, [(ev.WATCHER_DISCONNECTED, viewer, None)])
    result = run_cli("report", "-j", str(path), "-o", str(tmp_path / "r.md"))
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "r.md").read_text().replace("\\_", "_")
    assert "event 3 (watcher.disconnected) is malformed: its payload sets" in report


def test_an_action_result_cannot_override_who_when_and_which_event(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    forged = {"kind": "command", "exit": 0, "by": "mallory", "seq": 999, "at": "2020-01-01"}
    write_journal(path, [(ev.ACTION_RAN, forged, "freeze")])
    state = fold_and_show(path)
    assert state.steps["freeze"].actions == []  # refused as malformed: it claims who and when
    assert [(b.seq, b.kind) for b in state.malformed] == [(3, ev.ACTION_RAN)]


def _odd_payloads(kind: str) -> list[dict[str, Any]]:
    """For one kind: a payload that fits its schema but carries strange values everywhere else,
    and one that does not fit (every name the views read, of the wrong type)."""
    spec = payloads.SCHEMAS.get(kind, {})
    fits: dict[str, Any] = {
        name: ("x" if str in types else 1 if int in types else [] if list in types else {})
        for name, (types, _required) in spec.items()
    }
    if "plan" in spec:
        fits["plan"] = {"text": "not: [a plan", "sha256": "0" * 64}
    strange = {k: ["\x1b[2J", {"at": "not-a-time"}, 10**30] for k in KEYS if k not in spec}
    reserved = payloads.RESERVED.get(kind, frozenset())
    fitting = {**{k: v for k, v in strange.items() if k not in reserved}, **fits}
    misfit = {k: {"seq": "x"} for k in KEYS}
    return [fitting, misfit]


def test_the_watch_console_shows_a_journal_of_odd_payloads(tmp_path: Path) -> None:
    """`cutover watch` (the read-only console) on every pane, with both kinds of odd payload
    for every kind in its journal."""
    import asyncio

    from cutover_console.runbook.session import WatchSession
    from cutover_console.ui.app import WatchApp

    path = tmp_path / "j.sqlite"
    items = [
        (kind, payload, step)
        for kind in KINDS
        for payload in _odd_payloads(kind)
        for step in ("freeze", None)
    ]
    write_journal(path, items)
    state = fold_and_show(path)
    assert state.malformed  # the misfits are named
    session = WatchSession(path)
    app = WatchApp(session)

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            for key in ["1", "down", "down", "2", "down", "3", "4", "down", "e", "enter", "m"]:
                await pilot.press(key)
                await pilot.pause()

    try:
        asyncio.run(scenario())
    finally:
        session.close()
    assert app.return_code in (None, 0)
