"""The post-cutover document, built from the journal alone (the same fold every view uses).

Deterministic: the same journal gives the same document; "as of" is the last event's time (or
`--at`), never the clock of the machine that renders it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..clock import parse_ts
from ..journal import Event
from ..journal import events as ev
from ..plan.timeparse import format_duration
from ..runbook.fold import FINISHED, CutoverState
from ..runbook.summary import status_summary
from .communications import communications
from .inline import Data, Paragraph
from .rehearsal import Rehearsal, compare


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Chart:
    """Percent new over time, one series per record (at most a handful, plus the average)."""

    title: str
    series: dict[str, list[tuple[float, float]]]  # name -> (seconds since start, percent)
    span_s: float
    start_label: str = "the first observation"  # what the axis's zero is


@dataclass
class Section:
    title: str
    paragraphs: list[Paragraph] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]


def _t(state: CutoverState, when: datetime | None) -> str:
    return when.astimezone(state.plan.zone).strftime("%a %Y-%m-%d %H:%M") if when else "—"


def outcome(state: CutoverState) -> str:
    done, total = state.progress()
    failed = [s for s in state.steps.values() if s.status in ("failed", "rolled_back")]
    if done == total and not failed:
        return (
            "successful with deviations"
            if state.overrides or any(s.status == "skipped" for s in state.steps.values())
            else "successful"
        )
    if failed:
        return "unsuccessful so far" if done < total else "unsuccessful"
    return "in progress"


def build(
    state: CutoverState,
    events: list[Event],
    *,
    status_only: bool = False,
    rehearsal: Rehearsal | None = None,
) -> Document:
    """The report's content, in order; renderers only format it. With `rehearsal`, a section
    compares each step's time with the rehearsal's."""
    plan = state.plan
    if state.malformed:  # named in their own section, never read as what they claim
        skipped = {m.seq for m in state.malformed}
        events = [e for e in events if e.seq not in skipped]
    as_of = state.last_at or state.created_at
    summary = status_summary(state, as_of)
    done, total = state.progress()
    started = [s.started_at for s in state.steps.values() if s.started_at]
    ended = [s.ended_at for s in state.steps.values() if s.ended_at]
    actual_start, actual_end = (min(started) if started else None), (max(ended) if ended else None)
    window = plan.cutover.window
    title = f"{plan.cutover.name}"
    subtitle = (
        f"{plan.cutover.client} · {'status report' if status_only else 'cutover report'} "
        f"as of {_t(state, as_of)} ({plan.cutover.timezone})"
        + (f" · {state.mode.upper()}" if state.rehearsal else "")
    )
    sections: list[Section] = []
    head = state.head
    result = outcome(state)
    overview = Section(
        "Outcome and summary",
        [
            f"**Outcome: {result}.** {done} of {total} steps finished; "
            f"{sum(1 for s in state.steps.values() if s.status == 'skipped')} skipped, "
            f"{sum(1 for s in state.steps.values() if s.status == 'failed')} failed, "
            f"{len(state.overrides)} override(s).",
            f"Planned window {_t(state, window.start)} to {_t(state, window.end)}; actual work "
            f"{_t(state, actual_start)} to {_t(state, actual_end)}"
            + (
                f" ({format_duration(actual_end - actual_start)})"
                if actual_start and actual_end
                else ""
            )
            + ".",
            f"Forecast end {summary['forecast_end'][:16].replace('T', ' ')}; "
            + ("fits the window." if summary["fits_window"] else "**overruns the window**."),
        ],
    )
    ponr = summary["point_of_no_return"]
    if ponr:
        overview.paragraphs.append(
            f"Point of no return ({ponr['step']}): passed {_t(state, state.point_of_no_return_at)}."
            if ponr["passed_at"]
            else f"Point of no return ({ponr['step']}) not passed: rollback still possible until "
            f"{ponr['rollback_possible_until'][:16].replace('T', ' ')}."
        )
    if head:
        overview.paragraphs.append(f"Journal checkpoint `{head.seq}:{head.hash}`.")
    witnessed = witness_paragraph(state)
    if witnessed:
        overview.paragraphs.append(witnessed)
    sections.append(overview)
    sections.append(_tasks(state, summary))
    if status_only:
        blocked = [s for s in summary["steps"] if s["blockers"] and s["status"] == "in_progress"]
        sections.append(
            Section(
                "Needs attention",
                [
                    (Data("; ".join(f"{s['id']}: {', '.join(s['blockers'])}" for s in blocked)),)
                    if blocked
                    else "Nothing blocked."
                ],
            )
        )
        sections.append(_dns(state, events, brief=True))
        sections.append(_flows(state, events, brief=True))
        if state.malformed:
            sections.append(_malformed(state))
        return Document(title, subtitle, [s for s in sections if s.paragraphs or s.tables])
    if rehearsal is not None:
        paragraphs, rows = compare(state, rehearsal)
        headers = ["step", "planned", "rehearsal", "live", "difference", ""]
        sections.append(Section("Live against rehearsal", paragraphs, [Table(headers, rows)]))
    sections.append(_timeline(state, events))
    sections.append(_signoffs(state))
    sections.append(_deviations(state, events))
    sections.append(_dns(state, events))
    if state.plan.dns is not None and state.plan.dns.vantage is not None:
        from .vantage import vantage_section

        paragraphs, tables = vantage_section(state, events)
        sections.append(
            Section("Propagation by country and ISP", paragraphs, [Table(h, r) for h, r in tables])
        )
    sections.append(_flows(state, events))
    told, tables = communications(state, events)
    if told:
        sections.append(Section("Communications", told, [Table(h, r) for h, r in tables]))
    sections.append(_people(state))
    open_items = [s for s in plan.steps if state.steps[s.id].status not in FINISHED]
    sections.append(
        Section(
            "Open items",
            [
                ", ".join(
                    f"{s.id} ({state.steps[s.id].status.replace('_', ' ')})" for s in open_items
                )
                or "None: every step is finished."
            ],
        )
    )
    if state.malformed:
        sections.append(_malformed(state))
    sections.append(_integrity(state))
    return Document(title, subtitle, sections)


def _malformed(state: CutoverState) -> Section:
    """Events whose payload does not fit their kind: in the chain for good, so named here."""
    return Section(
        "Malformed events",
        [(Data(m.describe()),) for m in state.malformed],
    )


def _tasks(state: CutoverState, summary: dict[str, Any]) -> Section:
    rows = []
    for s in summary["steps"]:
        delay = ""
        if s["delay_s"] is not None and abs(s["delay_s"]) >= 60:
            delay = format_duration(timedelta(seconds=s["delay_s"]))
        comments = "; ".join(n.text for n in state.steps[s["id"]].notes)
        rows.append(
            [
                s["id"],
                s["title"],
                s["owner"],
                s["status"].replace("_", " "),
                (s["planned_start"] or "")[:16].replace("T", " "),
                (s["actual_start"] or "")[:16].replace("T", " "),
                (s["actual_end"] or "")[11:16],
                delay,
                (s["reason"] or "") + (" " + comments if comments else ""),
            ]
        )
    return Section(
        "Task by task",
        tables=[
            Table(
                [
                    "step",
                    "title",
                    "owner",
                    "status",
                    "planned start",
                    "actual start",
                    "end",
                    "delay",
                    "comments",
                ],
                rows,
            )
        ],
    )


def _timeline(state: CutoverState, events: list[Event]) -> Section:
    rows = []
    kinds = {
        ev.STEP_COMPLETED,
        ev.STEP_FAILED,
        ev.STEP_SKIPPED,
        ev.STEP_ROLLED_BACK,
        ev.STEP_REOPENED,
        ev.GATE_OVERRIDDEN,
        ev.PLAN_REVISED,
        ev.JOURNAL_RECOVERED,
    }
    for event in events:
        if event.kind not in kinds:
            continue
        step = state.plan.step(event.step) if event.step and event.step in state.steps else None
        what = event.kind.split(".")[1].replace("_", " ")
        if step is not None and step.kind == "go_no_go" and event.kind == ev.STEP_COMPLETED:
            signers = ", ".join(f"{s.person} ({s.role})" for s in state.steps[step.id].signoffs)
            what = f"GO decided by {event.actor}; signed by {signers}"
        elif step is not None and step.point_of_no_return and event.kind == ev.STEP_COMPLETED:
            what = "completed: POINT OF NO RETURN passed"
        reason = event.payload.get("reason") or event.payload.get("override_reason") or ""
        rows.append(
            [_t(state, parse_ts(event.ts)), event.step or "", event.actor, what, str(reason)]
        )
    return Section(
        "Timeline of key events and decisions",
        tables=[Table(["time", "step", "who", "what", "reason"], rows)],
    )


def _signoffs(state: CutoverState) -> Section:
    rows = []
    for step in state.plan.steps:
        for s in state.steps[step.id].signoffs:
            seen = "; ".join(_seen(gate, v) for gate, v in s.evidence.items()) or "no gates"
            how = f"signed by {s.person}'s key {s.key}" if s.key else "recorded by the lead"
            rows.append([step.id, s.person, s.role, _t(state, s.at), how, seen])
    return Section(
        "Sign-offs and the evidence each signer saw",
        tables=[Table(["step", "signer", "role", "at", "how", "evidence seen"], rows)],
    )


def _seen(gate: str, evidence: dict[str, Any]) -> str:
    verdict = (
        "ok" if evidence.get("ok") else ("overridden" if evidence.get("overridden") else "not met")
    )
    return f"{gate}: {verdict}" + (f" — {evidence['detail']}" if evidence.get("detail") else "")


def _deviations(state: CutoverState, events: list[Event]) -> Section:
    """Every skip, failure, rollback and re-open as it happened (even if later redone), and
    every override."""
    kinds = {
        ev.STEP_SKIPPED: "skipped",
        ev.STEP_FAILED: "failed",
        ev.STEP_ROLLED_BACK: "rolled back",
        ev.STEP_REOPENED: "re-opened",
    }
    rows = [
        [
            e.step or "",
            kinds[e.kind],
            e.actor,
            _t(state, parse_ts(e.ts)),
            str(e.payload.get("reason", "")),
        ]
        for e in events
        if e.kind in kinds
    ]
    for o in state.overrides:
        rows.append(
            [
                o.step or "",
                f"override ({o.action})",
                o.person,
                _t(state, o.at),
                f"{o.reason} [{'; '.join(o.rules)}]",
            ]
        )
    paragraphs: list[Paragraph] = (
        [] if rows else ["No deviation: nothing skipped, failed, rolled back or overridden."]
    )
    return Section(
        "Deviations",
        paragraphs,
        [Table(["step", "what", "who", "when", "reason"], rows)] if rows else [],
    )


def _dns(state: CutoverState, events: list[Event], *, brief: bool = False) -> Section:
    plan = state.plan
    section = Section("DNS")
    if plan.dns is None or not plan.dns.records:
        section.paragraphs.append("The plan changes no DNS records.")
        return section
    section.tables.append(
        Table(
            ["records", "type", "before", "after", "TTL"],
            [
                [
                    ", ".join(r.expanded()[:3])
                    + (f" (+{len(r.expanded()) - 3})" if len(r.expanded()) > 3 else ""),
                    r.type,
                    ", ".join(r.old) or "(none)",
                    ", ".join(r.new),
                    str(r.ttl or ""),
                ]
                for r in plan.dns.records
            ],
        )
    )
    latest = state.signals.dns_records
    if latest:
        percents = [v["percent_new"] for v in latest.values()]
        section.paragraphs.append(
            f"{len(latest)} record(s) observed; {sum(1 for p in percents if p >= 100)} fully "
            f"propagated; average {sum(percents) / len(percents):.1f} % of healthy resolvers new."
        )
    else:
        section.paragraphs.append("No propagation was observed in this journal.")
    if brief:
        return section
    start = state.created_at
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    ttl_rows: list[list[str]] = []
    flips: dict[tuple[str, str], datetime] = {}
    for event in events:
        at = parse_ts(event.ts)
        p = event.payload
        if event.kind == ev.DNS_RECORD:
            series[p["record"]].append(((at - start).total_seconds(), float(p["percent_new"])))
        elif event.kind == ev.DNS_AUTHORITY:
            ttl_rows.append(
                [
                    _t(state, at),
                    p["record"],
                    p["status"],
                    str(p["ttl"]),
                    ", ".join(f"{k}={v}" for k, v in sorted(p["serials"].items())),
                ]
            )
        elif event.kind == ev.DNS_VERDICT and p["status"] == "new":
            flips.setdefault((p["record"], p["resolver"]), at)
    if series:
        # The axis runs to the last observation, from shortly before the first record started
        # to flip: hours of 'all old' before a switch would squeeze the flip into a sliver.
        first = min(pt[0] for pts in series.values() for pt in pts)
        end = max(pt[0] for pts in series.values() for pt in pts)
        rises = [t for pts in series.values() for t, p in pts if p > 0]
        begin = first
        if rises:
            begin = max(first, min(rises) - max(600.0, 0.15 * (end - min(rises))))
        shown = {}
        for name, pts in sorted(series.items())[:6]:
            before = [p for t, p in pts if t < begin]
            clipped = [(t - begin, p) for t, p in pts if t >= begin]
            shown[name] = ([(0.0, before[-1])] if before else []) + clipped
        # and a little past the last change, up to the journal's end, so a final value shows
        if state.last_at is not None:
            closing = (state.last_at - start).total_seconds()
            end = max(end, min(closing, end + max(600.0, 0.25 * (end - begin))))
        span = (end - begin) or 1.0
        origin = _t(state, start + timedelta(seconds=begin))
        label = "the first observation" if begin == first else origin
        section.charts.append(
            Chart("Percent of healthy resolvers serving the new value", shown, span, label)
        )
    if ttl_rows:
        section.tables.append(
            Table(["when", "record", "authorities", "TTL", "serials"], ttl_rows[-40:])
        )
    if flips:
        section.tables.append(
            Table(
                ["record", "resolver", "first seen new"],
                [[rec, res, _t(state, at)] for (rec, res), at in sorted(flips.items())[:200]],
            )
        )
    return section


def _straggled(event: Event) -> bool:
    return event.kind == ev.FLOW_SITE and event.payload.get("status") == "straggler"


def _flows(state: CutoverState, events: list[Event], *, brief: bool = False) -> Section:
    plan = state.plan
    section = Section("Data flows")
    if not plan.flows:
        section.paragraphs.append("The plan follows no data flows.")
        return section
    sig = state.signals
    section.tables.append(
        Table(
            ["flow", "system", "old side", "new side"],
            [
                [
                    f.id,
                    f.system,
                    sig.flow_sides.get((f.id, "old"), {}).get("status", "—"),
                    sig.flow_sides.get((f.id, "new"), {}).get("status", "—"),
                ]
                for f in plan.flows
            ],
        )
    )
    stragglers = sorted(
        f"{flow}/{site}" for (flow, site), v in sig.flow_sites.items() if v["status"] == "straggler"
    )
    section.paragraphs.append(("Stragglers at close: ", Data(", ".join(stragglers) or "none"), "."))
    ever = sorted({f"{e.payload['flow']}/{e.payload['site']}" for e in events if _straggled(e)})
    if ever:
        shown = ", ".join(ever[:200]) + (f" and {len(ever) - 200} more" if len(ever) > 200 else "")
        section.paragraphs.append(
            (f"Sites that still sent to the old side after the switch ({len(ever)}): ", Data(shown))
        )
    if sig.reconciliations:
        section.tables.append(
            Table(
                ["reconciliation", "result", "rows", "at"],
                [
                    [rid, r["status"], str(r.get("rows", "")), str(r.get("at", ""))]
                    for rid, r in sorted(sig.reconciliations.items())
                ],
            )
        )
    if brief:
        return section
    history = []
    last: dict[tuple[str, str], str] = {}
    for e in events:  # status changes only (the engine also refreshes 'last seen' every minute)
        if e.kind != ev.FLOW_STATE:
            continue
        key = (e.payload["flow"], e.payload["side"])
        if last.get(key) == e.payload["status"]:
            continue
        last[key] = e.payload["status"]
        history.append(
            [
                _t(state, parse_ts(e.ts)),
                e.payload["flow"],
                e.payload["side"],
                e.payload["status"],
                str(e.payload.get("detail", ""))[:60],
            ]
        )
    if history:
        section.tables.append(Table(["when", "flow", "side", "status", "detail"], history[-60:]))
    sites = [
        [flow, site, v["status"], v.get("last_old") or "", v.get("first_new") or ""]
        for (flow, site), v in sorted(sig.flow_sites.items())
    ]
    if sites:
        section.tables.append(
            Table(["flow", "site", "status", "last seen on old", "first seen on new"], sites[:500])
        )
    return section


def _people(state: CutoverState) -> Section:
    acted: dict[str, int] = defaultdict(int)
    for step in state.steps.values():
        for s in step.signoffs:
            acted[s.person] += 1
    rows = [[p.id, p.name, ", ".join(p.roles), str(acted.get(p.id, 0))] for p in state.plan.people]
    watched = [
        [
            w.get("comment") or w.get("fingerprint", ""),
            w.get("peer", ""),
            _t(state, w["at"]),
            f"{w.get('duration_s', '')}",
        ]
        for w in state.watchers
        if w["kind"] == ev.WATCHER_DISCONNECTED
    ]
    section = Section("Participants", tables=[Table(["id", "name", "roles", "sign-offs"], rows)])
    if watched:
        section.tables.append(Table(["watched by", "from", "until", "seconds"], watched))
    return section


def witness_paragraph(state: CutoverState) -> Paragraph | None:
    """Where the journal is witnessed and its latest published checkpoint, as journaled."""
    a = state.archive
    if not a.location:
        return None
    if not a.latest_seq:
        return ("Witness ", Data(a.location), ": no checkpoint published yet.")
    return (
        "Latest published checkpoint ",
        Data(a.latest),
        " (published ",
        Data(a.latest_at),
        "), witnessed in ",
        Data(a.location),
        " (S3 Object Lock, compliance mode: nobody can rewrite or delete it). A client checks "
        "a bundle against every published checkpoint with: cutover verify BUNDLE --witness ",
        Data(a.location),
        ".",
    )


def _integrity(state: CutoverState) -> Section:
    head = state.head
    witnessed = witness_paragraph(state)
    return Section(
        "Integrity",
        [
            f"{state.count} events; head `{head.seq}:{head.hash}`." if head else "Empty journal.",
            "Check the journal against this checkpoint: `cutover verify JOURNAL --expect-head "
            + (f"{head.seq}:{head.hash}`" if head else "SEQ:HASH`")
            + ". An exported bundle carries an SSH signature: `cutover verify BUNDLE`, or with "
            "OpenSSH alone as its VERIFY.md says.",
            *([witnessed] if witnessed else []),
        ],
    )
