"""The DNS pane's vantage view: propagation by country and by network (ISP/ASN) as Globalping's
probes and the SSH vantage hosts see it, with the points of the group under the cursor below.
Everything shown comes from the journal's fold (`Signals.dns_vantage`), like the resolver rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from ...runbook.fold import CutoverState
from ...runbook.vantage_summary import aggregate, overall
from ...timestamps import countdown
from ...untrusted import LINE_LIMIT
from ...untrusted import text as literal
from ..table import KeyedTable
from .shown import show

COLOUR = {"new": "green", "old": "yellow", "mixed": "yellow"}


class VantageView(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="vantage-head")
        with Horizontal(id="vantage-body"):  # the groups, and the points of the one chosen
            yield KeyedTable(id="vantage-groups", cursor_type="row")
            yield KeyedTable(id="vantage-points", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#vantage-groups", KeyedTable).add_columns(
            "country / network", "points", "% new", "old", "failed", "longest TTL", "all new by"
        )
        self.query_one("#vantage-points", KeyedTable).add_columns(
            "point", "where", "network", "resolver", "record", "answer", "TTL", "flips by"
        )

    def render_state(self, state: CutoverState, now: datetime, errors: dict[str, str]) -> None:
        dns = state.plan.dns
        self.display = dns is not None and dns.vantage is not None
        if not self.display:
            return
        zone = state.plan.zone
        rows = list(state.signals.dns_vantage.values())
        answered, _new, percent = overall(rows)
        faults = state.signals.vantage_faults
        head = Text.assemble(
            ("vantage points ", "bold"),
            f"{answered} answering · {percent:g} % new" if answered else "waiting for a round",
        )
        if errors.get("vantage"):
            head.append_text(literal(f" · engine stopped: {errors['vantage']}", "bold red"))
        for key, fault in list(faults.items())[:4]:
            head.append_text(
                literal(f" · {key}: {fault.get('detail', '')}", "bold red", limit=LINE_LIMIT)
            )
        show(self.query_one("#vantage-head", Static), head)
        groups = self.query_one("#vantage-groups", KeyedTable)
        table: list[tuple[str, tuple[Any, ...]]] = []
        for by in ("country", "asn"):
            for g in aggregate(rows, now, by):
                table.append(
                    (
                        f"{by}:{g.key}",
                        (
                            literal(g.label if by == "country" else f"  {g.label}", limit=60),
                            str(g.points),
                            literal(
                                f"{g.percent_new:g}", "green" if g.percent_new >= 100 else "yellow"
                            ),
                            str(g.old),
                            str(g.failed) if g.failed else "",
                            f"{g.ttl_left} s" if g.ttl_left is not None else "",
                            countdown(g.all_new_by, now, zone) if g.all_new_by else "",
                        ),
                    )
                )
        groups.fill(table)
        chosen = groups.current_key()
        points = self.query_one("#vantage-points", KeyedTable)
        shown = []
        for row in rows:
            if chosen is not None:
                by, _, key = chosen.partition(":")
                mine = (
                    str(row.get("country") or "??")
                    if by == "country"
                    else (
                        f"AS{row.get('asn')}" if row.get("asn") else str(row.get("network") or "?")
                    )
                )
                if mine != key:
                    continue
            flips = row.get("flips_by")
            shown.append(
                (
                    f"{row['point']}|{row['record']}",
                    (
                        literal(row["point"]),
                        literal(
                            f"{row.get('country', '')} {row.get('city', '')}".strip(), limit=40
                        ),
                        literal(row.get("network", ""), limit=40),
                        literal(row.get("resolver", ""), limit=30),
                        literal(row["record"], limit=60),
                        literal(
                            row["status"] + (f" ({row['detail']})" if row.get("detail") else ""),
                            COLOUR.get(row["status"], "red"),
                            limit=60,
                        ),
                        str(row["ttl"]) if row.get("ttl") is not None else "",
                        countdown(datetime.fromisoformat(flips), now, zone) if flips else "",
                    ),
                )
            )
        points.fill(shown[:500])
