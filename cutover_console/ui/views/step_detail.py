"""The step in focus: instructions, gate evidence, sign-offs, rollback, actions, notes."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...plan.model import Step
from ...runbook.fold import CutoverState, StepState
from ...runbook.rules import missing_signoffs, signoff_rule
from ...runbook.signing import how_to_sign
from ...runbook.step_action import describe_result
from ...runbook.summary import step_blockers
from ...signoffs import signature_required
from ...timestamps import ago, clock_time, short_duration
from ...untrusted import md, md_document

KIND_NAMES = {"go_no_go": "go/no-go", "task": "task", "milestone": "milestone"}
# Engines journal a gate's evidence when it changes and keep checking: the verdict holds while
# they report. Without any engine signal for this long, it may no longer hold.
CURRENT_FOR = timedelta(minutes=5)


def evidence_age(state: CutoverState, at: datetime, now: datetime) -> str:
    """`since 18:01:38 (18m ago); current: engines reporting (last 4s ago)`, or a warning."""
    zone = state.plan.zone
    since = f"since {clock_time(at, zone)} ({ago(at, now)})"
    last = state.signals.updated_at
    if last is not None and now - last <= CURRENT_FOR:
        return f"{since}; current: the engines re-check it and report any change"
    silent = f"for {ago(last, now)[:-4]}" if last is not None else "yet"
    return f"{since}; **may be stale**: no engine report {silent}, check it still holds"


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
            f"{KIND_NAMES.get(step.kind, step.kind)} · planned {short_duration(step.duration)}"
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
        blockers = step_blockers(state, step_id, now) if current.status == "pending" else []
        if blockers:
            lines.append("**Blocked by:** " + "; ".join(md(b) for b in blockers))
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
                        mark += " — " + evidence_age(state, g.at, now)
                lines.append(f"- **{gate.id}** ({gate.check}): {mark}")
        if step.signoff:
            spec = step.signoff
            lines.append(f"### Sign-off ({signoff_rule(spec)})")
            for s in current.signoffs:
                lines.append(
                    f"- ✔ {md(s.person)} as {md(s.role)} at {s.at.astimezone(zone):%H:%M:%S}"
                    + (f" · signed · {md(s.key)}" if s.key else "")
                )
            if not current.signoffs:
                lines.append("- none yet")
            lines += signature_wanted(state, step, current)
        if step.instructions:
            lines += ["### Instructions", md_document(step.instructions)]
        if step.rollback:
            lines += ["### Rollback", md_document(step.rollback)]
        if step.action is not None:
            lines.append(f"### Automated action ({step.action.kind})")
            for ran in current.actions:
                lines.append(
                    f"- {ran['at'].astimezone(zone):%H:%M:%S} by {md(ran['by'])}: "
                    + md(describe_result(ran))
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


def signature_wanted(state: CutoverState, step: Step, current: StepState) -> list[str]:
    """Under `signoffs: signed`, while the step runs: whose signature it still needs and the
    command each of them runs (the same for the lead and for watchers)."""
    spec = step.signoff
    if spec is None or current.status != "in_progress" or not signature_required(state.plan, step):
        return []
    if not missing_signoffs(state, step, current):
        return []
    signed = {s.person for s in current.signoffs}
    who = [
        p.id
        for p in state.plan.people
        if p.id not in signed and p.id != current.started_by and set(p.roles) & set(spec.roles)
    ]
    if not who:
        return []
    return ["- needs a signature with the signer's own SSH key:"] + [
        f"  - {md(person)}: `{how_to_sign(step.id, person)}`" for person in who
    ]
