"""The DNS pane: every record's propagation, and per resolver what it last answered for the
record picked above, when, and what is not known since. Times are the cutover's zone."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ...runbook.fold import CutoverState
from ...timestamps import ago, clock_time, countdown, day_time, parse_iso, short_duration
from ...untrusted import LINE_LIMIT
from ...untrusted import text as literal
from ..table import KeyedTable
from .shown import show

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


def flag_codes(flags: list[str]) -> str:
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
        if getattr(self, "_verdicts_at", None) != at:
            self._verdicts_at = at
            self._by_record: dict[str, list[tuple[str, dict[str, Any]]]] = {}
            # one pass over the verdicts, not one per record
            for (record, resolver), verdict in sig.dns_verdicts.items():
                self._by_record.setdefault(record, []).append((resolver, verdict))
            self._silent = [
                key
                for key in sig.dns_records
                if nobody_answers([v["status"] for _, v in self._by_record.get(key, [])])
            ]
            self._sorted: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        silent = self._silent
        show(
            head,
            literal(f"DNS engine stopped: {error}", "bold red", limit=LINE_LIMIT)
            if error
            else Text(
                f"{len(sig.dns_records)} record(s) observed"
                + (
                    f" · last report {clock_time(sig.updated_at, zone)}"
                    if sig.updated_at
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
        records = self.query_one("#dns-records", KeyedTable)
        rows = []
        for key, summary in sorted(sig.dns_records.items()):
            auth = sig.dns_authority.get(key, {})
            rows.append(
                (
                    key,
                    (
                        key,
                        auth.get("status", ""),
                        f"{summary['percent_new']:g}",
                        f"{summary['new']}/{summary['healthy']}",
                        str(summary["failed"]),
                        countdown(summary.get("eta"), now, zone),
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
        verdicts = self._sorted.get(chosen)
        if verdicts is None:
            verdicts = self._sorted[chosen] = sorted(dict(self._by_record.get(chosen, [])).items())
        flags_seen: set[str] = set()
        for name, v in verdicts:
            flags_seen.update(v["flags"])
            detail.append((name, self._row(name, v, now, zone, colour, sig.updated_at)))
        resolvers.fill(detail)
        why = nobody_answers([v["status"] for _, v in verdicts])
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
        name: str,
        v: dict[str, Any],
        now: datetime,
        zone: Any,
        colour: dict[str, str],
        reported: datetime | None,
    ) -> tuple[Any, ...]:
        seen = parse_iso(v.get("observed_at") or None)
        ttl = v.get("ttl")
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
        status = v["status"]
        flips = v.get("flips_by")
        if status == "new":
            flips_text = "flipped"
        elif flips and parse_iso(flips) <= now:
            flips_text = f"overdue since {clock_time(flips, zone)}"
        else:
            flips_text = countdown(flips, now, zone)
        return (
            name,
            literal(status, colour.get(status, "red")),
            literal(", ".join(v.get("answers") or []), limit=40),
            f"{day_time(seen, zone)} ({ago(seen, now)})" if seen else "",
            copy,
            flips_text,
            flag_codes(v["flags"]),
        )
