"""The panes: checklist, step detail, header clock, DNS, flows, logs, journal. Each renders from
the cutover state (a fold over the journal); none of them writes anything."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, RichLog, Static

from ..plan.timeparse import format_duration
from ..runbook.fold import CutoverState
from ..runbook.summary import STATUS_STYLE
from ..untrusted import LINE_LIMIT, inert, md, md_document
from ..untrusted import text as literal
from .table import KeyedTable

STATUS_MARK = {
    "pending": "·",
    "in_progress": "▶",
    "done": "✔",
    "failed": "✘",
    "skipped": "↷",
    "rolled_back": "↺",
}
FILTERS = ("all", "open", "blocked", "finished")


def hm(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%a %H:%M") if iso else ""


class ClockBar(Static):
    """Now (client and local), the window, the forecast end, the point of no return, the head."""

    def render_state(
        self, state: CutoverState, now: datetime, summary: dict[str, Any], watchers: str = ""
    ) -> None:
        plan = state.plan
        zone = plan.zone
        window = plan.cutover.window
        left = window.end - now
        done, total = state.progress()
        forecast = datetime.fromisoformat(summary["forecast_end"])
        line1 = Text(no_wrap=True, overflow="ellipsis")
        line1.append(f" {inert(plan.cutover.name, limit=40)} ", style="bold reverse")
        if state.rehearsal:
            line1.append(f" {state.mode.upper()} ", style="bold black on yellow")
        line1.append(f" {now.astimezone(zone):%a %H:%M:%S %Z}", style="bold")
        line1.append(f" ({now.astimezone():%H:%M %Z} here) · ")
        line1.append(
            f"window {window.start.astimezone(zone):%a %H:%M}–"
            f"{window.end.astimezone(zone):%a %H:%M}"
        )
        line1.append(
            f" ({format_duration(left)} left)" if left.total_seconds() > 0 else " (window closed)",
            style="bold red" if left < timedelta(hours=1) else "",
        )
        line2 = Text(
            f" {done}/{total} done · forecast end {forecast:%a %H:%M} ",
            no_wrap=True,
            overflow="ellipsis",
        )
        line2.append(
            "fits the window" if summary["fits_window"] else "OVERRUNS THE WINDOW",
            style="green" if summary["fits_window"] else "bold red",
        )
        ponr = summary["point_of_no_return"]
        if ponr:
            if ponr["passed_at"]:
                line2.append(
                    f" · point of no return passed {hm(ponr['passed_at'])}", style="bold red"
                )
            else:
                line2.append(
                    f" · rollback still possible until {hm(ponr['rollback_possible_until'])}",
                    style="bold",
                )
        overruns = [s["id"] for s in summary["steps"] if s["overrun"]]
        if overruns:
            line2.append(f" · OVERRUN: {', '.join(overruns[:3])}", style="bold red")
        if state.head is not None:
            line2.append(f" · head {state.head.seq}:{state.head.hash[:12]}", style="cyan")
        if watchers:
            line2.append(f" · {inert(watchers, limit=80)}", style="italic")
        self.update(Text("\n").join([line1, line2]))


class Checklist(Vertical):
    """Phases and steps with state, owner, planned vs actual, delay and what blocks them."""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search steps (Enter to apply, Esc to clear)", id="search")
        yield KeyedTable(id="steps", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(KeyedTable)
        table.add_columns(
            "", "step", "title", "status", "owner", "planned", "actual", "delay", "blocked by"
        )
        self.query_one(Input).display = False
        self.filter = "all"
        self.search = ""

    def render_state(self, summary: dict[str, Any]) -> None:
        wanted: list[tuple[str, tuple[Any, ...]]] = []
        for s in summary["steps"]:
            if not self._visible(s):
                continue
            actual = hm(s["actual_start"])
            if s["actual_end"]:
                actual += f"–{hm(s['actual_end'])[-5:]}"
            delay = ""
            if s["delay_s"] is not None and abs(s["delay_s"]) >= 60:
                delay = format_duration(timedelta(seconds=s["delay_s"]))
            style = STATUS_STYLE[s["status"]]
            status = s["status"].replace("_", " ") + (" OVERRUN" if s["overrun"] else "")
            blockers = s["blockers"]
            waiting = [b for b in blockers if b.startswith("waits for")]
            shown = waiting[:1] if waiting else blockers
            wanted.append(
                (
                    s["id"],
                    (
                        Text(
                            STATUS_MARK[s["status"]] + ("!" if s["point_of_no_return"] else ""),
                            style=style,
                        ),
                        s["id"],
                        literal(s["title"], limit=34),
                        Text(status, style=style),
                        s["owner"],
                        hm(s["planned_start"]),
                        actual,
                        delay,
                        "; ".join(shown)[:70],
                    ),
                )
            )
        self.query_one(KeyedTable).fill(wanted)

    def _visible(self, s: dict[str, Any]) -> bool:
        if (
            self.search
            and self.search.lower()
            not in " ".join((s["id"], s["title"], s["owner"], s["phase"], s["status"])).lower()
        ):
            return False
        if self.filter == "open":
            return s["status"] in ("pending", "in_progress", "failed")
        if self.filter == "blocked":
            return bool(s["blockers"]) and s["status"] in ("pending", "in_progress")
        if self.filter == "finished":
            return s["status"] in ("done", "skipped")
        return True

    def current_step(self) -> str | None:
        return self.query_one(KeyedTable).current_key()


class StepDetail(VerticalScroll):
    """The step in focus: instructions, gate evidence, sign-offs, rollback, notes."""

    def compose(self) -> ComposeResult:
        # Rich's Markdown in one Static: Textual's Markdown widget mounts a widget per block,
        # which costs ~100 ms each time the focused step changes.
        yield Static("", id="detail-md")

    def render_step(self, state: CutoverState, step_id: str | None, now: datetime) -> None:
        if step_id is None:
            return
        step = state.plan.step(step_id)
        current = state.steps[step_id]
        zone = state.plan.zone
        # Everything from the journal or the plan is escaped (`md`) or, for the plan's own
        # Markdown, defused (`md_document`); links are never made clickable.
        lines = [
            f"## {md(step.title)}",
            f"`{step.id}` · phase **{step.phase}** · owner **{step.owner}** · "
            f"{step.kind.replace('_', '/')} · planned {format_duration(step.duration)}"
            + (" · **POINT OF NO RETURN**" if step.point_of_no_return else ""),
            f"**Status:** {current.status.replace('_', ' ')}"
            + (f" (attempt {current.attempt})" if current.attempt > 1 else "")
            + (
                f" — started {current.started_at.astimezone(zone):%a %H:%M}"
                f" by {md(current.started_by)}"
                if current.started_at
                else ""
            )
            + (
                f", ended {current.ended_at.astimezone(zone):%H:%M} by {md(current.ended_by)}"
                if current.ended_at
                else ""
            )
            + (f" — *{md(current.reason)}*" if current.reason else ""),
        ]
        if step.depends_on:
            deps = ", ".join(
                f"{d} ({state.steps[d].status.replace('_', ' ')})" for d in step.depends_on
            )
            lines.append(f"**Depends on:** {deps}")
        if step.not_before:
            lines.append(f"**Not before:** {step.not_before.astimezone(zone):%a %H:%M %Z}")
        if step.gates:
            lines.append("### Gates")
            for gate in step.gates:
                assert gate.id is not None
                g = current.gates.get(gate.id)
                if g is not None and g.overridden_by:
                    mark = f"⚠ OVERRIDDEN by {md(g.overridden_by)}: {md(g.override_reason)}"
                elif g is None or g.ok is None:
                    mark = "… no evidence yet"
                else:
                    mark = ("✔ " if g.ok else "✘ ") + md(g.detail or "")
                    if g.at:
                        mark += f" ({g.at.astimezone(zone):%H:%M:%S})"
                lines.append(f"- **{gate.id}** ({gate.check}): {mark}")
        if step.signoff:
            spec = step.signoff
            need = f"{spec.count} × {('+' if spec.each_role else '/').join(spec.roles)}"
            lines.append(f"### Sign-off ({need})")
            for s in current.signoffs:
                lines.append(
                    f"- ✔ {md(s.person)} as {md(s.role)} at {s.at.astimezone(zone):%H:%M:%S}"
                )
            if not current.signoffs:
                lines.append("- none yet")
        if step.instructions:
            lines += ["### Instructions", md_document(step.instructions)]
        if step.rollback:
            lines += ["### Rollback", md_document(step.rollback)]
        if step.action is not None:
            lines.append(f"### Automated action ({step.action.kind})")
            for ran in current.actions:
                status = "timed out" if ran.get("timed_out") else f"exit {ran.get('exit')}"
                lines.append(
                    f"- {ran['at'].astimezone(zone):%H:%M:%S} by {md(ran['by'])}: {md(status)}"
                    f" in {md(ran.get('duration_s'))} s"
                )
            if not current.actions:
                lines.append("- not run yet (`a` previews it)")
        if current.notes:
            lines.append("### Notes")
            lines += [
                f"- {n.at.astimezone(zone):%H:%M} **{md(n.person)}**: {md(n.text, multiline=True)}"
                for n in current.notes
            ]
        text = "\n\n".join(lines)
        if getattr(self, "_last", None) != text:
            self._last = text
            self.query_one("#detail-md", Static).update(RichMarkdown(text, hyperlinks=False))
        del now


class DnsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="dns-head")
        yield KeyedTable(id="dns-records", cursor_type="row")
        yield KeyedTable(id="dns-resolvers", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#dns-records", KeyedTable).add_columns(
            "record", "authority", "% new", "new/healthy", "failed", "all new by"
        )
        self.query_one("#dns-resolvers", KeyedTable).add_columns(
            "resolver", "status", "answers", "TTL left", "flips by", "flags"
        )

    def render_state(self, state: CutoverState, now: datetime, errors: dict[str, str]) -> None:
        sig = state.signals
        head = self.query_one("#dns-head", Static)
        if state.plan.dns is None or not state.plan.dns.records:
            head.update("This plan has no `dns:` records.")
            return
        error = errors.get("dns")
        head.update(
            literal(f"DNS engine stopped: {error}", "bold red", limit=LINE_LIMIT)
            if error
            else Text(
                f"{len(sig.dns_records)} record(s) observed"
                + (
                    f" · updated {sig.updated_at.astimezone():%H:%M:%S}"
                    if sig.updated_at
                    else " · waiting for the first sweep"
                )
            )
        )
        records = self.query_one("#dns-records", KeyedTable)
        rows = []
        for key, summary in sorted(sig.dns_records.items()):
            auth = sig.dns_authority.get(key, {})
            eta = summary.get("eta")
            rows.append(
                (
                    key,
                    (
                        key,
                        auth.get("status", ""),
                        f"{summary['percent_new']:g}",
                        f"{summary['new']}/{summary['healthy']}",
                        str(summary["failed"]),
                        _countdown(eta, now),
                    ),
                )
            )
        records.fill(rows)
        chosen = records.current_key()
        resolvers = self.query_one("#dns-resolvers", KeyedTable)
        if chosen is None:
            return
        colour = {"new": "green", "old": "yellow", "mixed": "yellow"}
        detail = []
        for name, v in sorted(sig.resolvers_of(chosen).items()):
            ttl = v.get("ttl")
            left = ""
            if ttl is not None and v.get("observed_at"):
                seen = datetime.fromisoformat(v["observed_at"].replace("Z", "+00:00"))
                remaining = int(ttl - (now - seen).total_seconds())
                # the copy journaled has run out; the engine asks again at expiry and journals
                # only a change, so an old answer with a fresh copy still reads 'expired'
                left = str(remaining) if remaining > 0 else "expired"
            detail.append(
                (
                    name,
                    (
                        name,
                        literal(v["status"], colour.get(v["status"], "red")),
                        literal(", ".join(v.get("answers") or []), limit=40),
                        left,
                        _countdown(v.get("flips_by"), now),
                        ", ".join(v["flags"]),
                    ),
                )
            )
        resolvers.fill(detail)


class FlowsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="flows-head")
        yield KeyedTable(id="flows", cursor_type="row")
        yield KeyedTable(id="sites", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#flows", KeyedTable).add_columns(
            "flow", "old side", "new side", "old last seen", "new last seen", "stragglers"
        )
        self.query_one("#sites", KeyedTable).add_columns(
            "site", "status", "last on old", "first on new", "last on new"
        )

    def render_state(self, state: CutoverState, now: datetime, errors: dict[str, str]) -> None:
        sig = state.signals
        head = self.query_one("#flows-head", Static)
        if not state.plan.flows:
            head.update("This plan has no `flows:`.")
            return
        recs = " · ".join(f"{k}: {v['status']}" for k, v in sorted(sig.reconciliations.items()))
        error = errors.get("flows")
        head.update(
            literal(f"flows engine stopped: {error}", "bold red", limit=LINE_LIMIT)
            if error
            else literal(
                f"switch: {state.dns_switched_at() or 'not yet'}"
                + (f" · reconciliation {recs}" if recs else ""),
                limit=LINE_LIMIT,
            )
        )
        colour = {"healthy": "green", "late": "yellow", "dead": "red", "failing": "bold red"}
        rows = []
        for flow in state.plan.flows:
            cells: list[Any] = [flow.id]
            seen = []
            for side in ("old", "new"):
                p = sig.flow_sides.get((flow.id, side))
                status = p["status"] if p else ("—" if getattr(flow, side) is None else "…")
                cells.append(literal(status, colour.get(status, "dim")))
                seen.append(_ago(p.get("last_seen") if p else None, now))
            stragglers = [s for s, v in sig.sites_of(flow.id).items() if v["status"] == "straggler"]
            rows.append(
                (flow.id, (*cells, *seen, literal(", ".join(sorted(stragglers)), limit=60)))
            )
        flows = self.query_one("#flows", KeyedTable)
        flows.fill(rows)
        chosen = flows.current_key()
        sites = (
            [
                (
                    site,
                    (
                        site,
                        literal(
                            v["status"],
                            {
                                "straggler": "bold red",
                                "moved": "green",
                                "silent": "yellow",
                            }.get(v["status"], ""),
                        ),
                        _ago(v.get("last_old"), now),
                        _ago(v.get("first_new"), now),
                        _ago(v.get("last_new"), now),
                    ),
                )
                for site, v in sorted(sig.sites_of(chosen).items())
            ]
            if chosen
            else []
        )
        self.query_one("#sites", KeyedTable).fill(sites)


class LogsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: text, source:NAME, level:ERROR", id="log-filter")
        yield RichLog(id="log", max_lines=2000, wrap=False, markup=False)

    def on_mount(self) -> None:
        self.lines: list[tuple[Any, ...]] = []
        self.last_id = 0

    def add_lines(self, rows: list[tuple[Any, ...]]) -> None:
        self.lines.extend(rows)
        self.lines = self.lines[-5000:]
        if rows:
            self.last_id = rows[-1][0]
        log = self.query_one(RichLog)
        for row in rows:
            if self._matches(row):
                log.write(self._line(row))

    def _matches(self, row: tuple[Any, ...]) -> bool:
        text = self.query_one("#log-filter", Input).value.strip()
        _id, _at, source, _side, level, line = row
        for word in text.split():
            if word.startswith("source:") and source != word[7:]:
                return False
            if word.startswith("level:") and level != word[6:].upper():
                return False
            if ":" not in word and word.lower() not in line.lower():
                return False
        return True

    @staticmethod
    def _line(row: tuple[Any, ...]) -> Text:
        _id, at, source, side, level, line = row
        style = {"ERROR": "bold red", "WARN": "yellow", "DEBUG": "dim"}.get(level, "")
        return literal(
            f"{at[11:19]} {side:<3} {source:<18} {level:<5} {line}", style, limit=LINE_LIMIT
        )

    def refilter(self) -> None:
        log = self.query_one(RichLog)
        log.clear()
        for row in self.lines:
            if self._matches(row):
                log.write(self._line(row))


SUBJECT_KEYS = ("gate", "flow", "site", "reconciliation", "resolver", "record")


class JournalPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="journal-head")
        yield KeyedTable(id="events", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one(KeyedTable).add_columns("seq", "time", "who", "kind", "step", "detail")
        self.shown = 0

    def add_events(self, state: CutoverState, events: list[Any]) -> None:
        table = self.query_one(KeyedTable)
        zone = state.plan.zone
        for event in events:
            if event.seq <= self.shown:
                continue
            self.shown = event.seq
            p = event.payload
            detail = (
                p.get("reason")
                or p.get("text")
                or p.get("role")
                or p.get("detail")
                or p.get("status")
                or ""
            )
            subject = " ".join(  # what an engine event is about: which site, resolver, gate
                str(p[k]) for k in SUBJECT_KEYS if isinstance(p.get(k), str)
            )
            if subject:
                detail = f"{subject}: {detail}" if detail else subject
            at = datetime.fromisoformat(event.ts.replace("Z", "+00:00")).astimezone(zone)
            table.add_row(
                str(event.seq),
                f"{at:%a %H:%M:%S}",
                event.actor,
                event.kind,
                event.step or "",
                literal(detail, limit=80),
                key=str(event.seq),
            )
        while table.row_count > 300:
            table.remove_row(str(table.get_row_at(0)[0]))
        if events:
            table.move_cursor(row=table.row_count - 1)
        head = state.head
        if head is not None:
            self.query_one("#journal-head", Static).update(
                Text.assemble(
                    ("checkpoint ", "bold"),
                    (f"{head.seq}:{head.hash}", "bold cyan"),
                    (
                        "  — quote it in updates; `cutover verify J --expect-head` checks it",
                        "dim",
                    ),
                )
            )


def _countdown(iso: str | None, now: datetime) -> str:
    if not iso:
        return ""
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    left = (when - now).total_seconds()
    return f"{when.astimezone():%H:%M:%S}" + (
        f" (in {format_duration(timedelta(seconds=left))})" if left > 0 else " (due)"
    )


def _ago(iso: str | None, now: datetime) -> str:
    if not iso:
        return "never"
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f"{format_duration(now - when)} ago"
