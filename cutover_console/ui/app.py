"""The console: the lead's (`cutover run`) and a watcher's (`cutover watch`).

One direction of flow: engines and actions → journal → state (a fold) → these views. Every action
is journaled (on the journal's thread) before the screen shows it; a watcher's process has no
writer at all, and its palette offers nothing that writes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Markdown, TabbedContent, TabPane

from ..journal import Event, JournalError
from ..runbook import ActionRefused, Cutover
from ..runbook.command_action import preview
from ..runbook.rules import LEAD_ROLE
from ..runbook.session import WatchSession
from ..runbook.step_action import execute, prepare
from ..runbook.summary import status_summary
from ..service.lead import LeadSession
from ..untrusted import BLOCK_LIMIT, CELL_LIMIT, inert
from .dialogs import ConfirmDialog, PersonPicker, ReasonDialog
from .views import (
    FILTERS,
    Checklist,
    ClockBar,
    DnsPane,
    FlowsPane,
    JournalPane,
    LogsPane,
    StepDetail,
)


class StateChanged(Message):
    """New events were folded into the state (coalesced: one refresh for a burst)."""

    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events


@dataclass(frozen=True)
class StepAction:
    name: str  # as in the command palette
    method: str  # the App action
    help: str


STEP_ACTIONS = (
    StepAction("Start step", "start_step", "Start the focused step"),
    StepAction("Complete step", "complete_step", "Complete the focused step (gates, sign-offs)"),
    StepAction("Fail step", "fail_step", "Mark the focused step failed, with a reason"),
    StepAction("Skip step", "skip_step", "Skip the focused step, with a reason"),
    StepAction("Re-open step", "reopen_step", "Re-open a finished step, with a reason"),
    StepAction("Sign off", "sign_off", "Sign off the focused step (pick the person)"),
    StepAction("Add note", "add_note", "Add a note to the focused step"),
    StepAction("Override gate", "override_gate", "Treat an unmet gate as met (lead, reason)"),
    StepAction("Run action", "run_action", "Preview, then run the step's automated action"),
    StepAction("Roll back step", "rollback_step", "Record that the step was rolled back"),
)


class ActionCommands(Provider):
    """The lead's actions, by name, in the command palette."""

    async def search(self, query: str) -> Hits:
        app = self.app
        assert isinstance(app, CutoverApp)
        if app.read_only:
            return
        matcher = self.matcher(query)
        for action in STEP_ACTIONS:
            score = matcher.match(action.name)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(action.name),
                    partial(app.run_step_action, action.method),
                    help=action.help,
                )

    async def discover(self) -> Hits:
        app = self.app
        assert isinstance(app, CutoverApp)
        if app.read_only:
            return
        for action in STEP_ACTIONS:
            yield Hit(1, action.name, partial(app.run_step_action, action.method), help=action.help)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Markdown(self.text)

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)


READ_BINDINGS: list[BindingType] = [
    Binding("question_mark", "help", "Help", id="help"),
    Binding("slash", "search", "Search", id="search"),
    Binding("t", "cycle_filter", "Filter", id="filter"),
    Binding("1", "show_pane('dns')", "DNS", id="pane-dns"),
    Binding("2", "show_pane('flows')", "Flows", id="pane-flows"),
    Binding("3", "show_pane('logs')", "Logs", id="pane-logs"),
    Binding("4", "show_pane('journal')", "Journal", id="pane-journal"),
    Binding("m", "toggle_maximize", "Maximize", id="maximize"),
    Binding("q", "quit", "Quit", id="quit"),
]
WRITE_BINDINGS: list[BindingType] = [
    Binding("s", "start_step", "Start", id="start"),
    Binding("c", "complete_step", "Complete", id="complete"),
    Binding("x", "fail_step", "Fail", show=False, id="fail"),
    Binding("k", "skip_step", "Skip", show=False, id="skip"),
    Binding("o", "reopen_step", "Re-open", show=False, id="reopen"),
    Binding("g", "sign_off", "Sign off", id="signoff"),
    Binding("n", "add_note", "Note", id="note"),
    Binding("v", "override_gate", "Override", show=False, id="override"),
    Binding("a", "run_action", "Action", show=False, id="action"),
    Binding("r", "rollback_step", "Roll back", show=False, id="rollback"),
]


class CutoverApp(App[None]):
    """The views shared by the lead and watchers."""

    CSS_PATH = "app.tcss"
    TITLE = "Cutover Console"
    COMMANDS = App.COMMANDS | {ActionCommands}
    BINDINGS: ClassVar[list[BindingType]] = READ_BINDINGS
    read_only = True

    def __init__(
        self, session: LeadSession | WatchSession, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__()
        self.session = session
        self.now = clock or (lambda: datetime.now().astimezone())
        self.watchers = ""
        self._rendered: tuple[int, datetime] | None = None
        self._summary: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield ClockBar(id="clock")
        with Horizontal(id="top"):
            yield Checklist(id="checklist")
            yield StepDetail(id="detail")
        with TabbedContent(id="panes", initial="dns"):
            with TabPane("DNS", id="dns"):
                yield DnsPane()
            with TabPane("Flows", id="flows"):
                yield FlowsPane()
            with TabPane("Logs", id="logs"):
                yield LogsPane()
            with TabPane("Journal", id="journal"):
                yield JournalPane()
        yield Footer()

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
        with self.session.lock:
            events = list(self._all_events())
        self.query_one(JournalPane).add_events(self.session.state, events[-300:])
        self.refresh_views()
        self.query_one("#steps", DataTable).focus()
        self.set_interval(1.0, self.tick)
        self.follow_logs()

    @property
    def _reader(self) -> Any:
        return self.session.reader

    def _all_events(self) -> Iterable[Event]:
        return self._reader.events(after=max(0, self.session.state.head_seq - 300))

    # -- refreshing ----------------------------------------------------------------------
    def refresh_views(self, *, panes: bool = True) -> None:
        """Re-render from the state. Only the pane on screen is rendered (the others catch up
        when shown); the lock is held only while reading, never across a journal write."""
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
                self._summary = status_summary(state, now)
            assert self._summary is not None
            self.query_one(ClockBar).render_state(state, now, self._summary, self.watchers)
            if fresh:
                checklist = self.query_one(Checklist)
                checklist.render_state(self._summary)
                self.query_one(StepDetail).render_step(state, checklist.current_step(), now)
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

    def tick(self) -> None:
        if not self.query(ClockBar):  # a tick that fires while the app shuts down
            return
        self.refresh_views()  # the clock, countdowns and overruns move with time

    @on(StateChanged)
    def state_changed(self, _message: StateChanged) -> None:
        panes = self.query(JournalPane)
        if not panes:  # an engine's change arriving while the app shuts down: nothing to show
            return
        pane = panes.first()
        with self.session.lock:
            after = max(pane.shown, self.session.state.head_seq - 300)
            events = list(self._reader.events(after=after))
        pane.add_events(self.session.state, events)
        self.refresh_views()

    @on(DataTable.RowHighlighted)
    def row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "steps":  # a new step in focus: the detail follows
            with self.session.lock:
                state = self.session.state
                self.query_one(StepDetail).render_step(
                    state, self.query_one(Checklist).current_step(), self.now()
                )
        elif event.data_table.id in ("dns-records", "flows"):  # drill-down follows
            with self.session.lock:
                self._render_pane(self.now())

    @on(TabbedContent.TabActivated)
    def pane_shown(self, _event: TabbedContent.TabActivated) -> None:
        with self.session.lock:
            self._render_pane(self.now())

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

    # -- navigation ----------------------------------------------------------------------
    def action_help(self) -> None:
        keys = "\n".join(
            f"| `{b.key}` | {b.description} |" for b in self.BINDINGS if isinstance(b, Binding)
        )
        mode = (
            "**Read-only watch.** Nothing typed here can change the cutover."
            if self.read_only
            else "**Lead console.** Every action is journaled before the screen shows it."
        )
        extra = (
            ""
            if self.read_only
            else (
                "\n\nThe command palette (`ctrl+p`) offers every action by name: "
                + ", ".join(a.name for a in STEP_ACTIONS)
                + "."
            )
        )
        self.push_screen(
            HelpScreen(
                f"# Keys\n\n{mode}\n\n| key | does |\n|---|---|\n{keys}\n"
                f"| `tab` | next pane |\n| `ctrl+p` | command palette |\n| `ctrl+q` | quit |{extra}"
                "\n\nPanes: `1` DNS · `2` Flows · `3` Logs · `4` Journal; `m` maximises the pane "
                "in focus. In the logs pane, filter with words, `source:NAME`, `level:ERROR`."
            )
        )

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

    def run_step_action(self, method: str) -> None:
        getattr(self, f"action_{method}")()


def _no_file_from_a_watcher(*_args: Any, **_kwargs: Any) -> None:
    """A watcher runs on the server host: it never writes a file there, whoever asks."""
    return None


class WatchApp(CutoverApp):
    """`cutover watch`: follows the journal read-only; no key, command or dialog writes."""

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
            if new:
                self.post_message(StateChanged(new))
            time.sleep(0.25)


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    authorized_keys: Path
    host_key: Path


class LeadApp(CutoverApp):
    """`cutover run`: the lead drives the cutover; engines run in the background."""

    BINDINGS: ClassVar[list[BindingType]] = WRITE_BINDINGS + READ_BINDINGS
    read_only = False

    def __init__(
        self,
        session: LeadSession,
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
        self.sub_title = f"lead console · acting as {self.operator}"

    def on_mount(self) -> None:  # after CutoverApp.on_mount, which Textual runs too
        if self.welcome:
            self.say(self.welcome, title="Welcome", timeout=20)
        if self.engines:
            self.run_worker(self._run_engines(), group="engines", exit_on_error=False)
        if self.serve is not None:
            self.run_worker(self._serve_watchers(self.serve), group="serve", exit_on_error=False)

    async def _serve_watchers(self, options: ServeOptions) -> None:
        """Teammates watch over SSH from inside the lead's process; the header shows who."""
        from ..sshwatch.server import WatchHub, load_or_create_host_key

        self.hub = WatchHub(self.lead_session.writer.path, on_change=self._watcher_changed)
        try:
            server = await self.hub.start(
                options.host,
                options.port,
                load_or_create_host_key(options.host_key),
                options.authorized_keys,
            )
        except (OSError, ValueError) as exc:
            self.say(
                f"cannot serve watchers on {options.host}:{options.port}: {exc}",
                severity="error",
                timeout=15,
            )
            return
        self.say(f"serving watchers on {options.host}:{options.port}", timeout=5)
        try:
            await self._stop.wait()
        finally:
            server.close()

    def _watcher_changed(self, what: str, viewer: Any) -> None:
        self.watchers = self.hub.watching() if self.hub is not None else ""
        payload = {
            "fingerprint": viewer.key_fingerprint,
            "comment": viewer.comment,
            "peer": viewer.peer,
        }
        if what == "disconnected":
            payload["duration_s"] = round(time.time() - viewer.started, 1)
        self.run_worker(self._journal_watcher(what == "connected", payload), group="watchers")

    async def _journal_watcher(self, connected: bool, payload: dict[str, Any]) -> None:
        await self.lead_session.act(lambda c: c.record_watcher(connected, payload))
        self.post_message(StateChanged([]))

    async def _run_engines(self) -> None:
        await self.lead_session.run_engines(self._stop, self._engine_changed)

    def _engine_changed(self) -> None:
        self.post_message(StateChanged([]))

    async def on_unmount(self) -> None:
        self._stop.set()

    # -- doing things --------------------------------------------------------------------
    def _step(self) -> str | None:
        step = self.query_one(Checklist).current_step()
        if step is None:
            self.say("no step selected", severity="warning")
        return step

    async def _do(
        self,
        label: str,
        action: Callable[[Cutover], Event | None],
        retry: Callable[[str], Callable[[Cutover], Event | None]] | None = None,
    ) -> None:
        """Run an action on the journal's thread; show it only once it is journaled."""
        try:
            event = await self.lead_session.act(action)
        except ActionRefused as refused:
            overridable = all(r.overridable for r in refused.refusals) and retry is not None
            text = "\n".join(f"• {r.message}" for r in refused.refusals)
            if not overridable:
                self.say(text, title=f"Refused: {label}", severity="error", timeout=8)
                return
            if not await self.push_screen_wait(
                ConfirmDialog(
                    f"Refused: {label}",
                    f"{text}\n\nOverride as lead? The override and its "
                    "reason are journaled forever.",
                    yes="Override…",
                )
            ):
                return
            reason = await self.push_screen_wait(
                ReasonDialog(
                    "Override", "Why is this overridden?", "the reason, as the report will show it"
                )
            )
            if reason is None:
                return
            assert retry is not None
            await self._do(label, retry(reason))
            return
        if event is not None:
            self.post_message(StateChanged([event]))
            self.say(f"{label}: journaled as event {event.seq}", timeout=3)

    @work(exclusive=True, group="act")
    async def action_start_step(self) -> None:
        if (step := self._step()) is None:
            return
        await self._do(
            f"start {step}",
            lambda c: c.start(step, self.operator),
            lambda why: lambda c: c.start(step, self.operator, override=why),
        )

    @work(exclusive=True, group="act")
    async def action_complete_step(self) -> None:
        if (step := self._step()) is None:
            return
        await self._do(
            f"complete {step}",
            lambda c: c.complete(step, self.operator),
            lambda why: lambda c: c.complete(step, self.operator, override=why),
        )

    async def _with_reason(
        self, verb: str, step: str, call: Callable[[Cutover, str], Event | None]
    ) -> None:
        reason = await self.push_screen_wait(
            ReasonDialog(f"{verb.title()} {step}", f"Why {verb} this step?")
        )
        if reason is not None:
            await self._do(f"{verb} {step}", lambda c: call(c, reason))

    @work(exclusive=True, group="act")
    async def action_fail_step(self) -> None:
        if (step := self._step()) is not None:
            await self._with_reason("fail", step, lambda c, r: c.fail(step, self.operator, r))

    @work(exclusive=True, group="act")
    async def action_skip_step(self) -> None:
        if (step := self._step()) is not None:
            await self._with_reason("skip", step, lambda c, r: c.skip(step, self.operator, r))

    @work(exclusive=True, group="act")
    async def action_reopen_step(self) -> None:
        if (step := self._step()) is not None:
            await self._with_reason("re-open", step, lambda c, r: c.reopen(step, self.operator, r))

    @work(exclusive=True, group="act")
    async def action_rollback_step(self) -> None:
        if (step := self._step()) is not None:
            reason = await self.push_screen_wait(
                ReasonDialog(f"Roll back {step}", "What was rolled back, and why?")
            )
            if reason is not None:
                await self._do(
                    f"roll back {step}",
                    lambda c: c.rollback(step, self.operator, reason),
                    lambda why: lambda c: c.rollback(step, self.operator, reason, override=why),
                )

    @work(exclusive=True, group="act")
    async def action_sign_off(self) -> None:
        if (step := self._step()) is None:
            return
        plan = self.session.state.plan
        spec = plan.step(step).signoff
        if spec is None:
            self.say(f"{step} requires no sign-off", severity="warning")
            return
        people = sorted(plan.people, key=lambda p: not (set(p.roles) & set(spec.roles)))
        choice = await self.push_screen_wait(
            PersonPicker(
                f"Who signs off {step}? (needs {spec.count} × {'/'.join(spec.roles)})",
                [(p.id, f"{p.name} ({', '.join(p.roles)})") for p in people],
            )
        )
        if choice is not None:
            await self._do(f"sign-off of {step} by {choice}", lambda c: c.signoff(step, choice))

    @work(exclusive=True, group="act")
    async def action_add_note(self) -> None:
        step = self.query_one(Checklist).current_step()
        text = await self.push_screen_wait(
            ReasonDialog("Add note", f"Note on {step or 'the cutover'} (journaled, in the report):")
        )
        if text is not None:
            await self._do("note", lambda c: c.note(text, self.operator, step_id=step))

    @work(exclusive=True, group="act")
    async def action_override_gate(self) -> None:
        if (step := self._step()) is None:
            return
        state = self.session.state
        gates = [
            g.id
            for g in state.plan.step(step).gates
            if g.id is not None and not state.steps[step].gates[g.id].satisfied
        ]
        if not gates:
            self.say(f"{step} has no unmet gate", severity="warning")
            return
        gate = (
            gates[0]
            if len(gates) == 1
            else await self.push_screen_wait(
                PersonPicker(f"Which gate of {step}?", [(g, g) for g in gates])
            )
        )
        if gate is None:
            return
        reason = await self.push_screen_wait(
            ReasonDialog(
                f"Override gate {gate}", "Why is the gate treated as met? (marked forever)"
            )
        )
        if reason is not None:
            await self._do(
                f"override {gate}", lambda c: c.override_gate(step, gate, self.operator, reason)
            )

    @work(exclusive=True, group="act")
    async def action_run_action(self) -> None:
        """Preview first; run only after the lead confirms; journal what it did."""
        if (step := self._step()) is None:
            return
        try:
            spec = await self.lead_session.act(lambda c: c.check_action(step, self.operator))
        except ActionRefused as refused:
            action = self.session.state.plan.step(step).action
            body = "\n".join(f"• {r.message}" for r in refused.refusals)
            if action is not None:
                body += f"\n\n{preview(action)}"
            self.say(body, title=f"Refused: run action of {step}", severity="error", timeout=10)
            return
        action = spec.action
        assert action is not None
        try:  # reading Route 53 blocks: a thread, never the screen's loop
            prepared = await asyncio.to_thread(prepare, action, self.session.state)
        except Exception as exc:  # no zone, no credentials, nothing to roll back
            self.say(
                f"{type(exc).__name__}: {exc}",
                title=f"Cannot preview {step}",
                severity="error",
                timeout=10,
            )
            return
        if prepared.route53:
            lines = prepared.lines
            text = "\n".join(lines[:25]) + (
                f"\n… and {len(lines) - 25} more" if len(lines) > 25 else ""
            )
            title = f"Run {action.kind} for {step}? ({len(lines)} change(s))"
        else:
            text, title = "\n".join(prepared.lines), f"Run the action of {step}?"
        if not await self.push_screen_wait(ConfirmDialog(title, text, yes="Run")):
            return
        self.say(f"running the action of {step}…", timeout=3)
        result = await asyncio.to_thread(execute, prepared)
        await self._do(
            f"action of {step} (exit {result['exit']})",
            lambda c: c.record_action(step, self.operator, result),
        )


def run_lead(session: LeadSession, operator: str | None = None) -> None:
    LeadApp(session, operator=operator).run()


def run_watch(session: WatchSession) -> None:
    WatchApp(session).run()


__all__ = ["CutoverApp", "LeadApp", "StateChanged", "WatchApp", "run_lead", "run_watch"]
