"""The live signals as the journal recorded them: DNS verdicts and summaries, flow and site
states, reconciliations. The lead's engines write these events; every view (the lead's console, a
watcher, a report) reads this fold, so all of them show the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..journal import events as ev
from ..journal.chain import Event


@dataclass
class Signals:
    dns_records: dict[str, dict[str, Any]] = field(default_factory=dict)  # record -> summary
    dns_verdicts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    dns_authority: dict[str, dict[str, Any]] = field(default_factory=dict)
    flow_sides: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    flow_sites: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    reconciliations: dict[str, dict[str, Any]] = field(default_factory=dict)
    dns_vantage: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    vantage_faults: dict[str, dict[str, Any]] = field(default_factory=dict)  # active ones
    updated_at: datetime | None = None

    def apply(self, event: Event, at: datetime) -> bool:
        """Fold a signal event in; False when the event is not a signal."""
        p = event.payload
        if event.kind == ev.DNS_VERDICT:
            self.dns_verdicts[(p["record"], p["resolver"])] = p
        elif event.kind == ev.DNS_RECORD:
            self.dns_records[p["record"]] = p
        elif event.kind == ev.DNS_AUTHORITY:
            self.dns_authority[p["record"]] = p
        elif event.kind == ev.FLOW_STATE:
            self.flow_sides[(p["flow"], p["side"])] = p
        elif event.kind == ev.FLOW_SITE:
            self.flow_sites[(p["flow"], p["site"])] = p
        elif event.kind == ev.RECONCILE_RESULT:
            self.reconciliations[p["reconciliation"]] = p
        elif event.kind == ev.DNS_VANTAGE:
            self.dns_vantage[(p["record"], p["point"])] = p
        elif event.kind == ev.DNS_VANTAGE_FAULT:
            if p.get("active"):
                self.vantage_faults[str(p["fault"])] = p
            else:
                self.vantage_faults.pop(str(p["fault"]), None)
        else:
            return False
        self.updated_at = at
        return True

    def resolvers_of(self, record: str) -> dict[str, dict[str, Any]]:
        return {res: v for (rec, res), v in self.dns_verdicts.items() if rec == record}

    def sites_of(self, flow: str) -> dict[str, dict[str, Any]]:
        return {site: v for (f, site), v in self.flow_sites.items() if f == flow}
