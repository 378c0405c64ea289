"""The DNS pane: every record's propagation, and per resolver what it answers."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ...runbook.fold import CutoverState
from ...timestamps import countdown, parse_iso
from ...untrusted import LINE_LIMIT
from ...untrusted import text as literal
from ..table import KeyedTable


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
                        countdown(eta, now),
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
                seen = parse_iso(v["observed_at"])
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
                        countdown(v.get("flips_by"), now),
                        ", ".join(v["flags"]),
                    ),
                )
            )
        resolvers.fill(detail)
