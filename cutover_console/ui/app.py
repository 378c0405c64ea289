"""The console: the lead's (`cutover run`) and a watcher's (`cutover watch`). This module
composes the screen and routes messages; the panes live in `views/`, the keys in `bindings.py`,
the lead's actions in `lead_actions.py`, SSH watchers in `watcher_hosting.py`.

One direction of flow: engines and actions → journal → state (a fold) → these views. Every action
is journaled (on the journal's thread) before the screen shows it; a watcher's process has no
writer at all, and its palette offers nothing that writes.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Input, TabbedContent, TabPane

from ..journal import JournalError
from ..runbook.comms_ledger import only_comms
from ..runbook.rules import LEAD_ROLE
from ..runbook.session import WatchSession
from ..runbook.summary import status_summary
from ..service.surface import ConsoleSession
from ..settings import Settings
from ..untrusted import BLOCK_LIMIT, CELL_LIMIT, inert
from .bindings import (
    JOURNAL_BINDINGS,
    READ_BINDINGS,
    WRITE_BINDINGS,
    key_label,
    keys_of,
    read_settings,
)
from .commands import ActionCommands
from .comms_actions import CommsActions
from .dialogs import Picker
from .help import HelpScreen, help_text
from .last_words import ReportsLastWords
from .lead_actions import LeadActions
from .messages import ChecklistFilled, StateChanged
from .model import CutoverView, cutover_view
from .steady import SteadyFooter, SteadyScreen
from .views import (
    FILTERS,
    Checklist,
    ClockBar,
    DnsPane,
    FinishedBanner,
    FlowsPane,
    JournalPane,
    LogsPane,
    StepDetail,
)
from .views.comms import REDRAW_EVERY, CommsPane, comms_alert
from .views.lazy import LazyPane
from .watcher_hosting import ServeOptions, WatcherHosting


class CutoverApp(App[None]):
    """The views shared by the lead and watchers."""

    CSS_PATH = "app.tcss"
    TITLE = "Cutover Console"
    COMMANDS = App.COMMANDS | {ActionCommands}
    # Each app lists its own keys (Textual puts a base class's first): the lead's footer
    # starts with what applies to the step in focus.
    BINDINGS: ClassVar[list[BindingType]] = []
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (130, "-normal")]  # noqa: RUF012 (Textual's type)
    read_only = True

    def __init__(
        self,
        session: ConsoleSession | WatchSession,
        *,
        clock: Callable[[], datetime] | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        # the settings file is read (and refused, naming the file) before anything is shown
        self.settings = settings if settings is not None else read_settings()
        if self.settings.keymap:
            self.set_keymap(self.settings.keymap)
        if self.settings.theme:
            self.theme = self.settings.theme
        self.now = clock or (lambda: datetime.now().astimezone())
        self.watchers = ""
        self._rendered: tuple[int, datetime] | None = None
        self._summary: CutoverView | None = None

    def get_default_screen(self) -> Screen[Any]:
        """The screen, born with the classes it would otherwise be given once its widgets are
        mounted (a live cutover's frame, the width's breakpoint): adding a class to a mounted
        screen restyles every widget on it, twice per viewer before its first frame."""
        classes = [] if self.session.state.rehearsal else ["live"]
        width = self.size.width
        classes += [name for edge, name in self.HORIZONTAL_BREAKPOINTS if width >= edge][-1:]
        return SteadyScreen(id="_default", classes=" ".join(classes))

    def compose(self) -> ComposeResult:
        yield ClockBar(id="clock")
        yield FinishedBanner(id="finished")
        with Horizontal(id="top"):
            yield Checklist(id="checklist")
            yield StepDetail(id="detail")
        with TabbedContent(id="panes", initial="dns"):
            with TabPane(self._tab_title("pane-dns", "DNS"), id="dns"):
                yield DnsPane()
            with TabPane(self._tab_title("pane-flows", "Flows"), id="flows"):
                yield FlowsPane()
            with TabPane(self._tab_title("pane-logs", "Logs"), id="logs"):
                yield LogsPane()
            with TabPane(self._tab_title("pane-journal", "Journal"), id="journal"):
                yield JournalPane()
            if self.session.state.plan.comms is not None:  # stakeholder updates (issue 22)
                with TabPane(self._tab_title("pane-comms", "Comms"), id="comms"):
                    yield CommsPane()
        yield SteadyFooter(compact=True)

    def _tab_title(self, binding_id: str, title: str) -> str:
        """`1 DNS`: each tab names the key that shows it (as remapped)."""
        binding = next(b for b in READ_BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        keys = keys_of(self, binding)
        return f"{key_label(self, keys[0])} {title}" if keys else title

    def say(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
    ) -> None:
        """A toast. Its text may quote a probe, a plan or a person: never read as markup."""
        self.notify(
            inert(message, limit=BLOCK_LIMIT, multiline=True),
            title=inert(title, limit=CELL_LIMIT),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def on_mount(self) -> None:
        self.title = inert(self.session.state.plan.cutover.name, limit=CELL_LIMIT)
        # a live cutover must not look like a rehearsal: a red band and border, at a glance
        self.screen.set_class(not self.session.state.rehearsal, "live")
        with self.session.lock:
            events = self.session.events_after(0)  # the newest the Journal pane shows
        self.query_one(LogsPane).zone = self.session.state.plan.zone
        self.query_one(ClockBar).journal = self.query_one(JournalPane).journal = self._reader.path
        self.query_one(JournalPane).add_events(self.session.state, events)
        self.refresh_views()
        self.query_one("#steps", DataTable).focus()
        self.set_interval(1.0, self.tick)
        self.follow_logs()
        if self.session.state.plan.comms is not None:
            self.follow_comms()
        # The fold of a long journal is millions of objects that live as long as the console:
        # once the first frame is up, they leave the cyclic collector's view (gc.freeze), whose
        # full passes over them paused the screen for about 55 ms every few seconds under load
        # (docs/benchmarks.md). Objects made later are collected as before; on_unmount gives
        # the frozen ones back (several apps in one process: the tests).
        self.call_after_refresh(gc.freeze)

    @on(events.Unmount)
    def _give_back_frozen(self) -> None:
        gc.unfreeze()

    @property
    def _reader(self) -> Any:
        return self.session.reader

    # -- refreshing ----------------------------------------------------------------------
    def refresh_views(self, *, panes: bool = True) -> None:
        """Re-render from the state. Only the pane on screen is rendered (the others catch up
        when shown); the lock is held only while reading, never across a journal write."""
        if not self._mounted(ClockBar):  # a message handled while the app shuts down
            return
        state = self.session.state
        now = self.now()
        with self.session.lock:
            # The checklist and the detail change with step events (not with the engines'
            # signals) and, for delays and overruns, by the minute: between those, a refresh
            # only moves the clock and the pane on screen.
            key = (state.runbook_version, now.replace(second=0, microsecond=0))
            fresh = key != self._rendered or self._summary is None
            self._rendered = key
            if fresh:  # the forecast of every step: once per change or minute, not per second
                self._summary = cutover_view(status_summary(state, now))
            assert self._summary is not None
            ledger = self.session.comms.ledger  # folded off this loop (follow_comms)
            self.query_one(ClockBar).comms_alert = comms_alert(state, ledger, now)
            self.query_one(ClockBar).render_state(state, now, self._summary, self.watchers)
            if fresh:
                checklist = self.query_one(Checklist)
                checklist.render_state(self._summary)
                self.query_one(StepDetail).render_step(state, checklist.current_step(), now)
                self.query_one(FinishedBanner).render_state(state, self._summary)
                self.update_footer()  # the footer offers what applies to the step now
            if panes:
                self._render_pane(now)

    def _render_pane(self, now: datetime) -> None:
        active = self.query_one(TabbedContent).active
        errors = self.session.engine_errors
        state = self.session.state
        if active == "dns":
            self.query_one(DnsPane).render_state(state, now, errors)
        elif active == "flows":
            self.query_one(FlowsPane).render_state(state, now, errors)
        elif active == "journal":
            self.query_one(JournalPane).catch_up()
        elif active == "logs":
            self.query_one(LogsPane).catch_up()
        elif active == "comms":
            comms = self.session.comms
            self.query_one(CommsPane).render_state(state, now, comms.ledger, errors, comms.version)

    def _mounted(self, kind: type[Any]) -> bool:
        """Whether a `kind` widget is mounted (not while the app shuts down). `query_one` is
        cached; `query(...)` walked the whole DOM, on every tick of twenty watchers (issue 21)."""
        try:
            self.query_one(kind)
        except NoMatches:
            return False
        return True

    def tick(self) -> None:
        if not self._mounted(JournalPane):  # a tick that fires while the app shuts down
            return
        # the clock, countdowns and overruns move with time; the comms engine's bookkeeping
        # (no StateChanged of its own: see only_comms) is picked up here
        self._catch_up_journal()
        self.refresh_views()

    @on(StateChanged)
    def state_changed(self, _message: StateChanged) -> None:
        if not self._mounted(JournalPane):  # arriving while the app shuts down: nothing to show
            return
        self._catch_up_journal()
        self.refresh_views()

    def _catch_up_journal(self) -> None:
        """The Journal pane gets the events folded since it last looked."""
        pane = self.query_one(JournalPane)
        if pane.shown >= self.session.state.head_seq:
            return
        with self.session.lock:  # handed over by the fold, not read again on this loop
            events = self.session.events_after(pane.shown)
        pane.add_events(self.session.state, events)

    @on(DataTable.RowHighlighted)
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if not self._mounted(StepDetail):  # a cursor move handled while the app shuts down
            return
        if event.data_table.id == "steps":  # a new step in focus: the detail follows
            self.step_in_focus()
        elif event.data_table.id in ("dns-records", "flows"):  # drill-down follows
            with self.session.lock:
                self._render_pane(self.now())

    @on(ChecklistFilled)
    def step_in_focus(self) -> None:
        """The step detail and the footer follow the checklist's cursor."""
        if not self._mounted(StepDetail):  # while the app shuts down
            return
        with self.session.lock:
            state = self.session.state
            self.query_one(StepDetail).render_step(
                state, self.query_one(Checklist).current_step(), self.now()
            )
        self.update_footer()

    @on(TabbedContent.TabActivated)
    async def pane_shown(self, event: TabbedContent.TabActivated) -> None:
        if not self._mounted(ClockBar):  # while the app shuts down
            return
        for pane in event.pane.children:  # made the first time it is shown (views/lazy.py)
            if isinstance(pane, LazyPane):
                await pane.build()
        with self.session.lock:
            self._render_pane(self.now())
        self.update_footer()

    def footer_signature(self) -> tuple[bool, ...]:
        """What the footer depends on; it is redrawn only when this changes (a redraw costs
        more than a key press may)."""
        panes = self.query(TabbedContent)
        return (bool(panes) and panes.first().active == "journal",)

    def update_footer(self) -> None:
        signature = self.footer_signature()
        if signature != getattr(self, "_footer", None):
            self._footer = signature
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_engine_events":  # in the footer while the journal is shown
            panes = self.query(TabbedContent)
            return bool(panes) and panes.first().active == "journal"
        return True

    def action_toggle_engine_events(self) -> None:
        self.query_one(TabbedContent).active = "journal"
        shown = self.query_one(JournalPane).toggle_engine()
        self.say("journal: engine events shown" if shown else "journal: people's events", timeout=2)

    @work(thread=True, exclusive=True, group="logs", exit_on_error=False)
    def follow_logs(self) -> None:
        """Log lines from the table beside the journal (the lead's process writes them)."""
        worker_stop = self.is_running
        last = 0
        while worker_stop:
            rows = self.session.log_lines(last)
            if rows:
                last = rows[-1][0]
                self.call_from_thread(self.query_one(LogsPane).add_lines, rows)
            time.sleep(0.5)
            worker_stop = self.is_running

    @work(thread=True, exclusive=True, group="comms", exit_on_error=False)
    def follow_comms(self) -> None:
        """Keeps the session's comms ledger current (the lead's in-process session reads the
        journal for it; a follower's folds it as it polls), off the screen's loop; the pane
        and the clock bar draw it on the clock's tick."""
        while self.is_running:
            self.session.follow_comms()
            time.sleep(REDRAW_EVERY)

    # -- navigation ----------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen(help_text(self, self.read_only)))

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        self.query_one(Checklist).search = event.value.strip()
        self.query_one("#steps", DataTable).focus()
        self._rendered = None
        self.refresh_views()

    @on(Input.Changed, "#log-filter")
    def log_filter(self, _event: Input.Changed) -> None:
        self.query_one(LogsPane).refilter()

    @on(Input.Changed, "#journal-filter")
    def journal_filter(self, _event: Input.Changed) -> None:
        self.query_one(JournalPane).refilter(follow=True)

    def on_key(self, event: Any) -> None:
        box = self.query_one("#search", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.display = False
            self.query_one(Checklist).search = ""
            self.query_one("#steps", DataTable).focus()
            self._rendered = None
            self.refresh_views()

    def action_cycle_filter(self) -> None:
        checklist = self.query_one(Checklist)
        checklist.filter = FILTERS[(FILTERS.index(checklist.filter) + 1) % len(FILTERS)]
        self.say(f"showing {checklist.filter} steps", timeout=2)
        self._rendered = None
        self.refresh_views()

    def action_show_pane(self, pane: str) -> None:
        self.query_one(TabbedContent).active = pane

    def action_toggle_maximize(self) -> None:
        screen = self.screen
        if screen.maximized is not None:
            screen.minimize()
        elif self.focused is not None:
            screen.maximize(self.focused)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own commands, minus the ones that write (the SVG screenshot) for watchers."""
        for command in super().get_system_commands(screen):
            if self.read_only and command.title.lower().startswith(("screenshot", "save")):
                continue
            yield command


def _no_file_from_a_watcher(*_args: Any, **_kwargs: Any) -> None:
    """A watcher runs on the server host: it never writes a file there, whoever asks."""
    return None


class WatchApp(ReportsLastWords, CutoverApp):
    """`cutover watch`: follows the journal read-only; no key, command or dialog writes."""

    BINDINGS: ClassVar[list[BindingType]] = READ_BINDINGS + JOURNAL_BINDINGS
    read_only = True

    def __init__(self, session: WatchSession, **kwargs: Any) -> None:
        spec = session.state.world_clock
        if spec is not None:  # a sped-up rehearsal world: show its time, as the lead sees it
            from ..clock import world_clock

            world = world_clock(spec)
            kwargs.setdefault("clock", lambda: world.now().astimezone())
        super().__init__(session, **kwargs)
        self.watch_session = session
        self.sub_title = "read-only watch"

    # Textual's own ways to write a file (the SVG screenshot, deliveries), reachable from an
    # action string, a key or the palette, are gone in a watcher, not merely hidden.
    action_screenshot = _no_file_from_a_watcher
    deliver_screenshot = _no_file_from_a_watcher
    deliver_text = _no_file_from_a_watcher
    deliver_binary = _no_file_from_a_watcher

    def save_screenshot(self, *_args: Any, **_kwargs: Any) -> str:
        raise PermissionError("a read-only watcher writes no file")

    def on_mount(self) -> None:  # Textual also runs CutoverApp.on_mount (it walks the MRO)
        self.follow_journal()

    @work(thread=True, exclusive=True, group="journal", exit_on_error=False)
    def follow_journal(self) -> None:
        while self.is_running:
            try:
                new = self.watch_session.poll()
            except JournalError as exc:  # damaged while watched: say so and stop, exit 2
                self.call_from_thread(self.exit, return_code=2, message=str(exc))
                return
            if new and not only_comms(new):  # comms bookkeeping alone: the next tick shows it
                self.post_message(StateChanged(new))
            time.sleep(0.25)


class LeadApp(CommsActions, LeadActions, WatcherHosting, CutoverApp):
    """`cutover run`: the lead drives the cutover; engines run in the background."""

    BINDINGS: ClassVar[list[BindingType]] = WRITE_BINDINGS + READ_BINDINGS + JOURNAL_BINDINGS
    read_only = False

    def __init__(
        self,
        session: ConsoleSession,
        *,
        operator: str | None = None,
        engines: bool = True,
        serve: ServeOptions | None = None,
        welcome: str | None = None,
        **kwargs: Any,
    ) -> None:
        # the lead's screen runs on the session's clock (a rehearsal world's may be sped up)
        kwargs.setdefault("clock", lambda: session.clock.now().astimezone())
        super().__init__(session, **kwargs)
        self.lead_session = session
        self.serve = serve
        self.hub: Any = None
        plan = session.state.plan
        self.operator = operator or next(
            (p.id for p in plan.people if LEAD_ROLE in p.roles), plan.people[0].id
        )
        self.engines = engines
        self.welcome = welcome  # shown once the screen is up (cutover demo's first words)
        self._stop = asyncio.Event()
        self.stop_service = False  # the lead's answer on quitting (see action_quit)
        self.sub_title = f"lead console · acting as {self.operator}"

    def on_mount(self) -> None:  # after CutoverApp.on_mount, which Textual runs too
        if self.welcome:
            self.say(self.welcome, title="Welcome", timeout=20)
        if self.engines:
            self.run_worker(self._run_engines(), group="engines", exit_on_error=False)
        if self.serve is not None:
            self.run_worker(self._serve_watchers(self.serve), group="serve", exit_on_error=False)

    async def _run_engines(self) -> None:
        await self.lead_session.run_engines(self._stop, self._engine_changed)

    def _engine_changed(self) -> None:
        self.post_message(StateChanged([]))

    async def on_unmount(self) -> None:
        self._stop.set()

    async def action_quit(self) -> None:
        """Quit. Writing through a journal service, ask first whether it stops too (its engines
        keep collecting evidence when it does not); `stop_service` holds the answer for
        `cutover run`. The demo's session runs in this process: it just stops."""
        if getattr(self.lead_session, "stop_service", None) is None or getattr(
            self.lead_session, "service_down", None
        ):
            self.exit()
            return
        if isinstance(self.screen, Picker):
            return  # already asking

        def chosen(choice: str | None) -> None:
            if choice in ("keep", "stop"):
                self.stop_service = choice == "stop"
                self.exit()

        self.push_screen(
            Picker(
                "Quit the console",
                [
                    ("keep", "Quit; the service keeps running, collecting evidence"),
                    ("stop", "Quit and stop the journal service and its engines"),
                    ("stay", "Stay in the console"),
                ],
            ),
            chosen,
        )


__all__ = [
    "CutoverApp",
    "LeadApp",
    "ServeOptions",
    "StateChanged",
    "WatchApp",
]
