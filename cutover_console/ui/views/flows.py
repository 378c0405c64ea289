"""The flows pane: data-flow heartbeats per side, and per site where its data goes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from textual.widget import Widget
from textual.widgets import Static

from ...runbook.fold import CutoverState
from ...timestamps import ago, day_time
from ...untrusted import LINE_LIMIT
from ...untrusted import text as literal
from ..model import flows_view
from ..table import KeyedTable
from .lazy import LazyPane
from .shown import show


def switch_text(switched: Any, now: datetime, state: CutoverState) -> str:
    if switched is None:
        return "not yet"
    return f"{day_time(switched, state.plan.zone)} ({ago(switched, now)})"


class FlowsPane(LazyPane):
    def parts(self) -> Iterable[Widget]:
        yield Static("", id="flows-head")
        yield KeyedTable(id="flows", cursor_type="row")
        yield KeyedTable(id="sites", cursor_type="row")

    def on_built(self) -> None:
        self.query_one("#flows", KeyedTable).add_columns(
            "flow", "old side", "new side", "old last seen", "new last seen", "stragglers"
        )
        self.query_one("#sites", KeyedTable).add_columns(
            "site", "status", "last on old", "first on new", "last on new"
        )

    def render_state(self, state: CutoverState, now: datetime, errors: dict[str, str]) -> None:
        if not self.built:
            return
        sig = state.signals
        head = self.query_one("#flows-head", Static)
        if not state.plan.flows:
            show(head, "This plan has no `flows:`.", fixed_size=True)
            return
        switched = state.dns_switched_at()
        at = (id(sig), state.head_seq)
        if getattr(self, "_model_at", None) != at:  # what the signals say changes with an event
            self._model_at, self._model = at, flows_view(sig)
        model = self._model
        recs = " · ".join(f"{name}: {status}" for name, status in model.reconciliations)
        error = errors.get("flows")
        show(
            head,
            literal(f"flows engine stopped: {error}", "bold red", limit=LINE_LIMIT)
            if error
            else literal(
                f"DNS switch: {switch_text(switched, now, state)}"
                + (f" · reconciliation {recs}" if recs else "")
                + (
                    " · an old side with no arrivals since the switch is drained"
                    if switched
                    else ""
                ),
                limit=LINE_LIMIT,
            ),
            fixed_size=True,
        )
        colour = {
            "healthy": "green",
            "late": "yellow",
            "dead": "red",
            "failing": "bold red",
            "drained": "green",
        }
        rows = []
        for flow in state.plan.flows:
            cells: list[Any] = [flow.id]
            seen = []
            for side in ("old", "new"):
                p = model.sides.get((flow.id, side))
                status = p.status if p else ("—" if getattr(flow, side) is None else "…")
                if side == "old" and switched is not None and status in ("dead", "late"):
                    status = "drained"  # after the switch, silence on the old side is the goal
                cells.append(literal(status, colour.get(status, "dim")))
                seen.append(ago(p.last_seen if p else None, now))
            stragglers = [s.site for s in model.sites.get(flow.id, ()) if s.status == "straggler"]
            rows.append(
                (flow.id, (*cells, *seen, literal(", ".join(sorted(stragglers)), limit=60)))
            )
        flows = self.query_one("#flows", KeyedTable)
        flows.fill(rows)
        chosen = flows.current_key()
        site_colour = {"straggler": "bold red", "moved": "green", "silent": "yellow"}
        sites = [
            (
                v.site,
                (
                    v.site,
                    literal(v.status, site_colour.get(v.status, "")),
                    ago(v.last_old, now),
                    ago(v.first_new, now),
                    ago(v.last_new, now),
                ),
            )
            for v in (model.sites.get(chosen, ()) if chosen else ())
        ]
        self.query_one("#sites", KeyedTable).fill(sites)
