"""The step in focus: instructions, gate evidence, sign-offs, rollback, actions, notes."""

from __future__ import annotations

from datetime import datetime

from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...runbook.fold import CutoverState
from ...timestamps import short_duration
from ...untrusted import md, md_document


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
            f"{step.kind.replace('_', '/')} · planned {short_duration(step.duration)}"
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
