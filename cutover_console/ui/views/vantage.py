"""The DNS pane's vantage view: propagation by country and by network (ISP/ASN) as Globalping's
probes and the SSH vantage hosts see it, with the points of the group under the cursor below.
Everything shown comes from the journal's fold (`Signals.dns_vantage`), like the resolver rows."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from ...runbook.fold import CutoverState
from ...runbook.vantage_summary import aggregate, overall
from ...timestamps import clock_time
from ...untrusted import LINE_LIMIT
from ...untrusted import text as literal
from ..table import KeyedTable
from .shown import show

COLOUR = {"new": "green", "old": "yellow", "mixed": "yellow"}
REBUILD_EVERY = 2.0  # seconds between rebuilds while events keep arriving
SHOWN_POINTS = 200  # of the group under the cursor; the JSON and the report have them all
SHOWN_NETWORKS = 25
REBUILD_ROWS = 20  # changed rows past which a table is rebuilt rather than updated


class VantageView(Vertical):
    def compose(self) -> ComposeResult:
        yield Static("", id="vantage-head")
        with Horizontal(id="vantage-body"):  # the groups, and the points of the one chosen
            yield KeyedTable(id="vantage-groups", cursor_type="row")
            yield KeyedTable(id="vantage-points", cursor_type="row")

    def on_mount(self) -> None:
        self.query_one("#vantage-groups", KeyedTable).add_columns(
            "country / network", "points", "% new", "old", "failed", "longest TTL", "all new at"
        )
        self.query_one("#vantage-points", KeyedTable).add_columns(
            "point", "where", "network", "resolver", "record", "answer", "TTL", "flips at"
        )

    def render_state(self, state: CutoverState, now: datetime, errors: dict[str, str]) -> None:
        dns = state.plan.dns
        self.display = dns is not None and dns.vantage is not None
        if not self.display:
            return
        sig = state.signals
        groups = self.query_one("#vantage-groups", KeyedTable)
        chosen = groups.current_key()
        # What the rows say changes only with a new event (or another group chosen): the pane
        # re-renders every second, and rebuilding 500 probes' rows each time starved the keys.
        at = (id(sig), state.head_seq, chosen, errors.get("vantage"))
        before = getattr(self, "_model_at", None)
        if before == at:
            return
        # While a round lands (hundreds of events folded in chunks) rebuild at most every
        # REBUILD_EVERY: the pane's one-second tick brings the last chunk in.
        same_view = before is not None and before[2:] == at[2:]
        if same_view and time.monotonic() - getattr(self, "_built", 0.0) < REBUILD_EVERY:
            return
        self._model_at = at
        self._built = time.monotonic()
        zone = state.plan.zone
        rows = list(sig.dns_vantage.values())
        seen = state.last_at or now
        answered, _new, percent = overall(rows)
        head = Text.assemble(
            ("vantage points ", "bold"),
            f"{answered} answering · {percent:g} % new" if answered else "waiting for a round",
        )
        if errors.get("vantage"):
            head.append_text(literal(f" · engine stopped: {errors['vantage']}", "bold red"))
        for key, fault in list(sig.vantage_faults.items())[:4]:
            head.append_text(
                literal(f" · {key}: {fault.get('detail', '')}", "bold red", limit=LINE_LIMIT)
            )
        show(self.query_one("#vantage-head", Static), head)
        table: list[tuple[str, tuple[Any, ...]]] = []
        for by in ("country", "asn"):
            # every country; the networks with the most points (all of them: JSON and report)
            for g in aggregate(rows, seen, by)[: None if by == "country" else SHOWN_NETWORKS]:
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
                            clock_time(g.all_new_by, zone) if g.all_new_by else "",
                        ),
                    )
                )
        refill(groups, table)
        chosen = groups.current_key()  # the first group, when there was no table before
        self._model_at = (at[0], at[1], chosen, at[3])
        self._points(rows, chosen, zone)

    def _points(self, rows: list[dict[str, Any]], chosen: str | None, zone: Any) -> None:
        by, _, key = (chosen or "").partition(":")
        shown = []
        for row in rows:
            if chosen is not None:
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
                        clock_time(datetime.fromisoformat(flips), zone) if flips else "",
                    ),
                )
            )
            if len(shown) >= SHOWN_POINTS:
                break
        refill(self.query_one("#vantage-points", KeyedTable), shown)


def refill(table: KeyedTable, rows: list[tuple[str, tuple[Any, ...]]]) -> None:
    """`fill`, but rebuilt when many rows changed: a round changes most rows at once, and a
    cell update that may widen its column costs a pass over the column (160 rows changing
    took the console 1.7 s; rebuilt, a few ms)."""
    shown = table._shown
    changed = sum(1 for key, row in rows if shown.get(key) != tuple(str(v) for v in row))
    if changed > REBUILD_ROWS:
        table._restore = table.current_key()
        table.clear()
    table.fill(rows)
