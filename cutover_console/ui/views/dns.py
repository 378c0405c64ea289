"""The DNS pane: every record's propagation, and per resolver what it last answered for the
record picked above, when, and what is not known since. Times are the cutover's zone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ...runbook.fold import CutoverState
from ...timestamps import ago, clock_time, countdown, day_time, short_duration
from ...untrusted import LINE_LIMIT
from ...untrusted import text as literal
from ..model import DnsView, VerdictView
from ..table import KeyedTable
from .shown import show
from .vantage import VantageView

# Short codes keep the flags column narrow at 100 columns; the legend under the table says them.
FLAG_CODES = {
    "ttl-not-decreasing": ("TND", "TTL not decreasing (a cap not honoured)"),
    "ttl-above-zone": ("TAZ", "TTL above the zone's"),
    "serve-stale": ("STL", "serves stale answers"),
    "old-after-new": ("OAN", "old again after new"),
}
ANSWERED = ("new", "old", "mixed")
WHY = {
    "nxdomain": "NXDOMAIN (the name does not exist for them)",
    "nodata": "no record of this type",
    "servfail": "SERVFAIL (cannot reach the zone's authorities)",
    "refused": "REFUSED",
    "timeout": "no answer (timeout)",
    "error": "errors",
    "other": "another address than old or new",
}


def flag_codes(flags: Iterable[str]) -> str:
    return " ".join(FLAG_CODES.get(f, (f, ""))[0] for f in flags)


def nobody_answers(statuses: list[str]) -> str:
    """Why a record has no resolver answering old or new, in words ('' when some do)."""
    if not statuses or any(s in ANSWERED for s in statuses):
        return ""
    counts = Counter(statuses)
    parts = [f"{n} {WHY.get(s, s)}" for s, n in counts.most_common()]
    hint = ""
    if set(counts) <= {"nxdomain", "servfail", "timeout", "refused", "error"}:
        hint = (
            " — the resolvers cannot see the zone: no internet from here, a zone not "
            "delegated yet, or a typo in the record's name"
        )
    return f"no resolver answers with the old or the new address: {'; '.join(parts)}{hint}"


class DnsPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="dns-head")
        yield KeyedTable(id="dns-records", cursor_type="row")
        yield Static("", id="dns-resolvers-head")
        yield KeyedTable(id="dns-resolvers", cursor_type="row")
        yield VantageView(id="dns-vantage")

    def on_mount(self) -> None:
        self.query_one("#dns-records", KeyedTable).add_columns(
            "record", "authority", "% new", "new/healthy", "failed", "all new by"
        )
        self.query_one("#dns-resolvers", KeyedTable).add_columns(
            "resolver", "answer", "addresses", "answered", "its copy", "flips by", "flags"
        )

    def render_state(self, state: CutoverState, now: datetime, errors: dict[str, str]) -> None:
        sig = state.signals
        zone = state.plan.zone
        head = self.query_one("#dns-head", Static)
        if state.plan.dns is None or not state.plan.dns.records:
            show(head, "This plan has no `dns:` records.", fixed_size=True)
            return
        error = errors.get("dns")
        # What the verdicts say changes only with a new event: the pane re-renders every
        # second (countdowns), and one pass over thousands of verdicts each time was most of a
        # quiet console's CPU.
        at = (id(sig), state.head_seq)
        if getattr(self, "_model_at", None) != at:
            self._model_at = at
            self._model = DnsView(sig)
            self._silent = [
                r.key for r in self._model.records if nobody_answers(self._model.statuses(r.key))
            ]
        model = self._model
        silent = self._silent
        show(
            head,
            literal(f"DNS engine stopped: {error}", "bold red", limit=LINE_LIMIT)
            if error
            else Text(
                f"{len(model.records)} record(s) observed"
                + (
                    f" · last report {clock_time(model.updated_at, zone)}"
                    if model.updated_at
                    else " · waiting for the first sweep"
                )
                + (
                    f" · {len(silent)} record(s) no resolver can answer: see below"
                    if silent
                    else ""
                ),
                style="bold red" if silent else "",
            ),
            fixed_size=True,
        )
        self.query_one(VantageView).render_state(state, now, errors)
        records = self.query_one("#dns-records", KeyedTable)
        rows = [
            (
                r.key,
                (
                    r.key,
                    r.authority,
                    f"{r.percent_new:g}" if r.percent_new is not None else "?",
                    f"{r.new}/{r.healthy}",
                    str(r.failed),
                    countdown(r.eta, now, zone),
                ),
            )
            for r in model.records
        ]
        records.fill(rows)
        chosen = records.current_key()
        resolvers = self.query_one("#dns-resolvers", KeyedTable)
        if chosen is None:
            return
        colour = {"new": "green", "old": "yellow", "mixed": "yellow"}
        verdicts = model.verdicts(chosen)
        flags_seen = {flag for v in verdicts for flag in v.flags}
        resolvers.fill(
            [(v.resolver, self._row(v, now, zone, colour, model.updated_at)) for v in verdicts]
        )
        why = nobody_answers([v.status for v in verdicts])
        legend = " · ".join(
            f"{FLAG_CODES[f][0]} {FLAG_CODES[f][1]}" for f in sorted(flags_seen) if f in FLAG_CODES
        )
        show(
            self.query_one("#dns-resolvers-head", Static),
            Text.assemble(
                ("resolvers for ", "bold"),
                literal(chosen, "bold cyan", limit=120),
                (f" · {why}", "bold red") if why else "",
                (f" · flags: {legend}", "") if legend else "",
                (" · last answer journaled; re-asked at expiry, journaled on change", "dim"),
            ),
        )

    @staticmethod
    def _row(
        v: VerdictView,
        now: datetime,
        zone: tzinfo,
        colour: dict[str, str],
        reported: datetime | None,
    ) -> tuple[Any, ...]:
        seen, ttl = v.observed_at, v.ttl
        copy = ""
        if ttl is not None and seen is not None:
            remaining = int(ttl - (now - seen).total_seconds())
            # past its expiry the engine asks again and journals only a change: while the
            # engines report, an expired copy means "asked again, unchanged"; once they are
            # silent, nobody has asked since
            expired = seen + timedelta(seconds=ttl)
            if remaining > 0:
                copy = short_duration(timedelta(seconds=remaining)) + " left"
            elif reported is not None and reported >= expired:
                copy = "expired, unchanged"
            else:
                copy = f"expired {clock_time(expired, zone)}, not asked since"
        if v.status == "new":
            flips_text = "flipped"
        elif v.flips_by is not None and v.flips_by <= now:
            flips_text = f"overdue since {clock_time(v.flips_by, zone)}"
        else:
            flips_text = countdown(v.flips_by, now, zone)
        return (
            v.resolver,
            literal(v.status, colour.get(v.status, "red")),
            literal(", ".join(v.answers), limit=40),
            f"{day_time(seen, zone)} ({ago(seen, now)})" if seen else "",
            copy,
            flips_text,
            flag_codes(v.flags),
        )
