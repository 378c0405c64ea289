"""The polished console (issue 15): every pane at 100×30 and 200×50 for the lead and a watcher,
the end of the cutover, the point-of-no-return confirmation, the settings file (keymap, theme),
the footer, the journal filter, the sign-off picker. Snapshots are rebuilt deliberately with
`pytest tests/ui/test_console_polish.py --snapshot-update`."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_world import fill_journal
from support import run_cli
from textual import events
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Input

from cutover_console.journal import JournalReader
from cutover_console.plan import load_plan
from cutover_console.runbook.session import WatchSession
from cutover_console.service.lead import LeadSession
from cutover_console.settings import SettingsError
from cutover_console.ui.app import LeadApp, StateChanged, WatchApp
from cutover_console.ui.dialogs import ConfirmDialog, Picker, TypedConfirmDialog
from cutover_console.ui.help import HelpScreen
from cutover_console.ui.table import KeyedTable
from cutover_console.ui.views import JournalPane, StepDetail

PANES = ("1", "2", "3", "4")  # DNS, Flows, Logs, Journal


@pytest.fixture(autouse=True)
def fixed_world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Local time UTC on every machine, the settings file of this test only, and `cutover`
    as the command name in what the console prints."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("CUTOVER_CONFIG", raising=False)
    monkeypatch.setattr("sys.argv", ["cutover"])
    monkeypatch.chdir(tmp_path)
    yield
    if before is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = before
    time.tzset()


def lead(tmp_path: Path, *, finished: bool = False) -> tuple[LeadApp, LeadSession]:
    clock, plan = fill_journal(tmp_path / "j.sqlite", finished=finished)
    session = LeadSession.open(tmp_path / "j.sqlite", load_plan(plan), clock=clock)
    return LeadApp(session, engines=False, clock=clock.now), session


def watcher(tmp_path: Path) -> tuple[WatchApp, WatchSession]:
    clock, _plan = fill_journal(tmp_path / "j.sqlite")
    session = WatchSession(tmp_path / "j.sqlite")
    return WatchApp(session, clock=clock.now), session


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.pause(0.3)
    app = pilot.app
    app.query_one("#steps").move_cursor(row=2)  # the DNS switch, under way
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", [(100, 30), (200, 50)], ids=["100x30", "200x50"])
@pytest.mark.parametrize("pane", PANES, ids=["dns", "flows", "logs", "journal"])
@pytest.mark.parametrize("who", ["lead", "watcher"])
def test_every_pane(snap_compare, tmp_path: Path, who: str, pane: str, size) -> None:  # type: ignore[no-untyped-def]
    app, session = lead(tmp_path) if who == "lead" else watcher(tmp_path)

    async def show(pilot):  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press(pane)
        await pilot.pause(0.3)

    try:
        assert snap_compare(app, terminal_size=size, run_before=show)
    finally:
        session.close()


def test_end_of_cutover_screen(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, session = lead(tmp_path, finished=True)
    try:
        assert snap_compare(app, terminal_size=(140, 40))
    finally:
        session.close()


def test_end_banner_prints_the_commands_the_way_cutover_was_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", [".venv/bin/cutover", "run"])
    app, session = lead(tmp_path, finished=True)

    async def scenario() -> None:
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.pause(0.3)
            banner = app.query_one("#finished")
            text = str(banner.render())
            assert banner.display and banner.has_class("complete")
            assert "Cutover complete at Sun 06:45" in text
            assert ".venv/bin/cutover report -j j.sqlite -o j-report.html" in text
            assert ".venv/bin/cutover export -j j.sqlite -o j-bundle" in text
            clock = str(app.query_one("#clock").render())
            assert "CUTOVER COMPLETE" in clock and "forecast end" not in clock

    try:
        asyncio.run(scenario())
    finally:
        session.close()


def test_point_of_no_return_confirmation(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    app, session = lead(tmp_path)

    async def ready(pilot):  # type: ignore[no-untyped-def]
        await settle(pilot)
        await app.lead_session.act(
            lambda c: c.record_gate("dns-switch", "authority-new", True, "all new", {})
        )
        await app.lead_session.act(lambda c: c.signoff("dns-switch", "nia"))
        app.post_message(StateChanged([]))  # the screen shows both, whatever the tick does
        await pilot.pause(0.3)
        await pilot.press("c")
        for _ in range(50):
            if isinstance(app.screen, TypedConfirmDialog):
                break
            await pilot.pause(0.1)
        app.screen.query_one(Input).cursor_blink = False  # a frozen cursor
        await pilot.pause(0.3)

    try:
        assert snap_compare(app, terminal_size=(120, 40), run_before=ready)
    finally:
        session.close()


def test_point_of_no_return_is_confirmed_by_typing_and_journaled(tmp_path: Path) -> None:
    app, session = lead(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            await app.lead_session.act(
                lambda c: c.record_gate("dns-switch", "authority-new", True, "all new", {})
            )
            await app.lead_session.act(lambda c: c.signoff("dns-switch", "nia"))
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmDialog))
            body = str(app.screen.body)  # type: ignore[attr-defined]
            assert "passes the point of no return" in body
            assert "rolling back any step is refused" in body
            await pilot.press("escape")  # cancelled: nothing recorded, and said so
            await pilot.pause(0.3)
            assert app.session.state.steps["dns-switch"].status == "in_progress"
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmDialog))
            await pilot.press(*"dns-swit", "enter")  # not the id: still asking
            await pilot.pause(0.2)
            assert isinstance(app.screen, TypedConfirmDialog)
            await pilot.press("c", "h", "enter")
            await wait_for(pilot, lambda: app.session.state.point_of_no_return_at is not None)
            # the cursor moved on to the next step that can be acted on
            await wait_for(pilot, lambda: app.query_one("#steps").current_key() == "verify-new")  # type: ignore[attr-defined]
            clock = str(app.query_one("#clock").render())
            assert "POINT OF NO RETURN PASSED" in clock

    try:
        asyncio.run(scenario())
    finally:
        session.close()
    with JournalReader(tmp_path / "j.sqlite") as reader:
        done = [e for e in reader.events() if e.kind == "step.completed" and e.step == "dns-switch"]
    assert len(done) == 1
    assert "rolling back any step is refused" in done[0].payload["point_of_no_return_confirmed"]


async def wait_for(pilot, condition, timeout: float = 5.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.05)
    assert condition(), what


def footer_keys(app: LeadApp) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}


def test_footer_offers_what_applies_to_the_focused_step(tmp_path: Path) -> None:
    app, session = lead(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)  # dns-switch, in progress
            shown = footer_keys(app)
            assert {"complete_step", "sign_off", "fail_step", "override_gate"} <= shown
            assert "start_step" not in shown and "reopen_step" not in shown
            app.query_one("#steps").move_cursor(row=0)  # freeze, done
            await pilot.pause(0.2)
            shown = footer_keys(app)
            assert "reopen_step" in shown
            assert not {"complete_step", "start_step", "sign_off"} & shown
            await pilot.press("c")  # not offered, still answers: with the rule's reason
            await pilot.pause(0.3)
            assert any("cannot complete" in str(n.message) for n in app._notifications)
            assert app.session.state.steps["freeze"].status == "done"

    try:
        asyncio.run(scenario())
    finally:
        session.close()


def test_action_key_in_the_footer_and_preview_cancel_says_so(tmp_path: Path) -> None:
    plan = tmp_path / "action.yaml"
    text = (Path(__file__).parent.parent / "plans" / "small.yaml").read_text()
    plan.write_text(
        text.replace(
            "    owner: app-owner\n    duration: 15m\n",
            "    owner: app-owner\n    duration: 15m\n"
            "    action: {kind: command, run: 'echo frozen', timeout: 10s}\n",
            1,
        )
    )
    from datetime import UTC, datetime

    from cutover_console.clock import ManualClock

    clock = ManualClock(datetime(2026, 12, 5, 13, 0, tzinfo=UTC))
    session = LeadSession.open(tmp_path / "j.sqlite", load_plan(plan), clock=clock)
    app = LeadApp(session, engines=False, clock=clock.now)

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause(0.3)
            assert "run_action" not in footer_keys(app)  # pending: nothing to run yet
            await pilot.press("s")
            await wait_for(pilot, lambda: session.state.steps["freeze"].status == "in_progress")
            await pilot.pause(0.2)
            assert "run_action" in footer_keys(app)
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            assert "Cancel is the default" in str(app.screen.query_one(".dialog-hint").render())
            await pilot.press("enter")  # the focus is on Cancel
            await pilot.pause(0.3)
            assert not isinstance(app.screen, ConfirmDialog)
            assert any("did not run" in str(n.message) for n in app._notifications)
            assert not session.state.steps["freeze"].actions

    try:
        asyncio.run(scenario())
    finally:
        session.close()


def test_journal_pane_shows_people_then_engines_and_filters(tmp_path: Path) -> None:
    app, session = lead(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.press("4")
            await pilot.pause(0.3)
            table = app.query_one("#events", KeyedTable)

            def actors() -> set[str]:
                return {str(table.get_row(k)[2]) for k in table.rows}

            assert "lena" in actors() and not any(a.startswith("engine:") for a in actors())
            await pilot.press("e")
            await pilot.pause(0.2)
            assert {"engine:dns", "engine:flows"} <= actors()
            pane = app.query_one(JournalPane)
            box = pane.query_one("#journal-filter")
            box.value = "who:nia"  # type: ignore[attr-defined]
            await pilot.pause(0.3)
            assert actors() == {"nia"}

    try:
        asyncio.run(scenario())
    finally:
        session.close()


def test_signoff_picker_leaves_out_who_signed_and_says_the_rule(tmp_path: Path) -> None:
    app, session = lead(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            await pilot.press("g")
            await wait_for(pilot, lambda: isinstance(app.screen, Picker))
            picker = app.screen
            assert isinstance(picker, Picker)
            ids = [p for p, _ in picker.people]
            assert "lena" not in ids and "nia" in ids  # lena signed already
            assert "2 distinct sign-offs by lead or network; signed: lena" in picker.title_text

    try:
        asyncio.run(scenario())
    finally:
        session.close()


def write_settings(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "config" / "cutover-console" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    return config


def test_keymap_and_theme_from_the_settings_file(tmp_path: Path) -> None:
    write_settings(tmp_path, 'theme = "nord"\n[keymap]\nsignoff = "f5"\npane-journal = "4,j"\n')
    app, session = lead(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            assert app.theme == "nord"
            await pilot.press("g")  # no longer sign-off
            await pilot.pause(0.3)
            assert not isinstance(app.screen, Picker)
            await pilot.press("f5")
            await wait_for(pilot, lambda: isinstance(app.screen, Picker))
            await pilot.press("escape")
            await pilot.pause(0.2)
            await pilot.press("j")
            await pilot.pause(0.2)
            assert app.query_one("#panes").active == "journal"  # type: ignore[attr-defined]
            await pilot.press("question_mark")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            help_text = app.screen.text  # type: ignore[attr-defined]
            assert "| `f5` | Sign off | `signoff` |" in help_text
            assert "| `4` `j` | Journal | `pane-journal` |" in help_text
            assert "| `?` | Help | `help` |" in help_text  # people's names for keys
            await pilot.press("pagedown")  # the help scrolls
            await pilot.pause(0.2)
            assert app.screen.query_one("#help").scroll_y > 0

    try:
        asyncio.run(scenario())
    finally:
        session.close()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[keymap]\nstart-step = "s"\n', "unknown binding id 'start-step'"),
        ('[keymap]\nstart = "f5"\ncomplete = "f5"\n', "key 'f5' is given twice"),
        ('[keymap]\nstart = "c"\n', "key 'c' is taken: complete and start"),
        ('theme = "no-such-theme"\n', "theme: 'no-such-theme' is not a theme"),
        ("[keymap\n", "not valid TOML"),
        ('colour = "red"\n', "unknown setting 'colour'"),
    ],
)
def test_an_invalid_settings_file_is_named_at_start(tmp_path: Path, text: str, said: str) -> None:
    config = write_settings(tmp_path, text)
    clock, plan = fill_journal(tmp_path / "j.sqlite")
    session = LeadSession.open(tmp_path / "j.sqlite", load_plan(plan), clock=clock)
    try:
        with pytest.raises(SettingsError) as caught:
            LeadApp(session, engines=False, clock=clock.now)
    finally:
        session.close()
    assert str(config) in str(caught.value) and said in str(caught.value)


def test_cutover_run_refuses_a_bad_settings_file_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text('[keymap]\nnope = "x"\n')
    fill_journal(tmp_path / "j.sqlite")
    env = {"CUTOVER_CONFIG": str(config)}
    result = run_cli("watch", "-j", str(tmp_path / "j.sqlite"), env=env)
    assert result.returncode == 2
    assert f"error: {config}: keymap: unknown binding id 'nope'" in result.stderr
    missing = run_cli(
        "watch", "-j", str(tmp_path / "j.sqlite"), env={"CUTOVER_CONFIG": "/nonexistent.toml"}
    )
    assert missing.returncode == 2 and "no such settings file" in missing.stderr


@pytest.mark.parametrize(
    ("pane", "table_id", "y"),
    [
        ("1", "#steps", 3),  # the third step, under the header
        ("1", "#dns-resolvers", 2),
        ("2", "#sites", 3),  # a border line above its header
        ("4", "#events", 2),
    ],
)
def test_the_mouse_on_every_table(tmp_path: Path, pane: str, table_id: str, y: int) -> None:
    app, session = lead(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause(0.3)
            await pilot.press(pane)
            await pilot.pause(0.3)
            table = app.query_one(table_id, KeyedTable)
            await pilot.click(table, offset=(4, y))
            await wait_for(pilot, lambda: table.cursor_row == y - 1 - (table_id == "#sites"))
            if table_id == "#steps":  # the step's detail follows the click
                detail = app.query_one(StepDetail)._last  # type: ignore[attr-defined]
                assert "Switch upload.small.test" in detail

    try:
        asyncio.run(scenario())
    finally:
        session.close()


@pytest.mark.parametrize("width, breakpoint", [(100, "-narrow"), (160, "-normal")])
def test_the_screen_is_born_with_its_classes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, width: int, breakpoint: str
) -> None:
    """A live cutover's frame and the width's breakpoint are the screen's classes from the
    start: added once the widgets were mounted, each restyled every widget on the screen
    (twice per SSH viewer before its first frame, issue 21)."""
    app, session = watcher(tmp_path)
    changed: list[tuple[str, ...]] = []  # the screen's classes, each time they changed
    restyle = DOMNode.update_node_styles

    def spy(node: DOMNode, animate: bool = True) -> None:
        if isinstance(node, Screen) and node.is_mounted:
            classes = tuple(sorted(node.classes))
            if not changed or changed[-1] != classes:
                changed.append(classes)
        restyle(node, animate)

    monkeypatch.setattr(DOMNode, "update_node_styles", spy)

    async def scenario() -> None:
        async with app.run_test(size=(width, 30)) as pilot:
            await pilot.pause(0.2)
            assert breakpoint in app.screen.classes
            assert ("live" in app.screen.classes) == (not session.state.rehearsal)

    try:
        asyncio.run(scenario())
    finally:
        session.close()
    assert len(changed) <= 1, changed  # styled once as it is shown, never for a class


def test_a_viewers_first_second_does_no_work_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: the screen laid out once per size (Resize events of the size it has are
    dropped), the footer rebuilt only when its keys change, the checklist filled once, for
    the width it is given, with the step detail following its cursor."""
    from textual.widgets import Footer

    from cutover_console.ui.views import Checklist

    recomposed: list[int] = []
    real_recompose = Footer.recompose

    async def counted(self: Footer) -> None:
        recomposed.append(1)
        await real_recompose(self)

    monkeypatch.setattr(Footer, "recompose", counted)
    written: list[str] = []  # what went into the checklist's cells
    real_add, real_update = KeyedTable.add_row, KeyedTable.update_cell

    def add_row(self: KeyedTable, *cells: object, **kwargs: object) -> object:
        written.extend(["row"] if self.id == "steps" else [])
        return real_add(self, *cells, **kwargs)

    def update_cell(self: KeyedTable, *args: object, **kwargs: object) -> None:
        written.extend(["cell"] if self.id == "steps" else [])
        real_update(self, *args, **kwargs)

    monkeypatch.setattr(KeyedTable, "add_row", add_row)
    monkeypatch.setattr(KeyedTable, "update_cell", update_cell)
    app, session = watcher(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause(0.3)
            checklist = app.query_one(Checklist)
            table = app.query_one("#steps", KeyedTable)
            assert written == ["row"] * table.row_count != [], "filled once, for its own width"
            assert checklist.columns and checklist._laid_out == checklist.size.width
            first = table.current_key()
            assert first and first in app.query_one(StepDetail)._last  # type: ignore[attr-defined]
            assert len(recomposed) == 1, "one footer for the first frame"

            screen = app.screen
            layouts: list[object] = []
            real_layout = screen._refresh_layout
            monkeypatch.setattr(
                screen, "_refresh_layout", lambda *a, **k: (layouts.append(a), real_layout(*a, **k))
            )
            for _ in range(3):  # the size it has: nothing moves
                screen.post_message(events.Resize(app.size, app.size))
            app.refresh_bindings()
            app.refresh_bindings()
            await pilot.pause(0.2)
            assert layouts == [] and len(recomposed) == 1
            await pilot.resize_terminal(120, 40)  # another size: laid out, columns chosen again
            await pilot.pause(0.3)
            assert layouts and checklist._laid_out == checklist.size.width < 100
            await pilot.press("4")  # the Journal pane: a key of its own joins the footer
            await pilot.pause(0.3)
            assert len(recomposed) == 2
            assert "toggle_engine_events" in footer_keys(app)  # type: ignore[arg-type]

    try:
        asyncio.run(scenario())
    finally:
        session.close()


def test_a_minute_of_new_delays_measures_each_column_once(tmp_path: Path) -> None:
    """Every late step's delay changes each minute: DataTable measured the whole column again
    for each narrower cell (a column's measure per row). One cell per changed column is
    measured now, and the widths still follow the content both ways."""
    from textual.app import App

    measured: list[tuple[str, str]] = []

    class Counting(KeyedTable):
        def update_cell(self, row_key, column_key, value, **kwargs):  # type: ignore[no-untyped-def]
            if kwargs.get("update_width"):
                measured.append((row_key, column_key))
            super().update_cell(row_key, column_key, value, **kwargs)

    def width(table: KeyedTable, column: int) -> int:
        return list(table.columns.values())[column].content_width

    class One(App[None]):
        def compose(self):  # type: ignore[no-untyped-def]
            yield Counting(id="t")

    async def scenario() -> None:
        app = One()
        async with app.run_test(size=(100, 40)) as pilot:
            table = app.query_one(Counting)
            table.add_columns("step", "delay")
            rows = [(f"s{i}", (f"s{i}", "12h30m")) for i in range(30)]
            table.fill(rows)
            await pilot.pause()
            assert width(table, 1) == 6
            table.fill([(k, (k, f"{i}m")) for i, (k, _) in enumerate(rows)])  # all narrower
            await pilot.pause()
            assert len(measured) == 1 and width(table, 1) == 5  # "delay", the label, is widest
            table.fill([(k, (k, "1d2h3m" if i == 7 else "9m")) for i, (k, _) in enumerate(rows)])
            await pilot.pause()
            assert measured[1:] == [("s7", list(table.columns)[1])] and width(table, 1) == 6

    asyncio.run(scenario())
