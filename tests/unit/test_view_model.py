"""The typed view model of the DNS and flows panes: signal payloads read once into dataclasses,
a malformed field shown as unknown rather than breaking the pane."""

from __future__ import annotations

from datetime import UTC, datetime

from cutover_console.runbook.signals import Signals
from cutover_console.ui.model import DnsView, SiteView, VerdictView, flows_view


def test_dns_view_reads_verdicts_sorted_and_typed() -> None:
    signals = Signals()
    signals.dns_records["A upload"] = {"percent_new": 50, "new": 1, "healthy": 2, "failed": 0}
    signals.dns_authority["A upload"] = {"status": "new"}
    signals.dns_verdicts[("A upload", "quad9")] = {
        "status": "old",
        "answers": ["192.0.2.1"],
        "observed_at": "2026-12-05T23:00:00Z",
        "ttl": 300,
        "flips_by": "2026-12-05T23:05:00Z",
        "flags": ["serve-stale"],
    }
    signals.dns_verdicts[("A upload", "cloudflare")] = {"status": "new", "flags": []}
    view = DnsView(signals)
    (record,) = view.records
    assert (record.key, record.authority, record.percent_new, record.new, record.healthy) == (
        "A upload",
        "new",
        50.0,
        1,
        2,
    )
    verdicts = view.verdicts("A upload")
    assert [v.resolver for v in verdicts] == ["cloudflare", "quad9"]
    assert verdicts[1] == VerdictView(
        resolver="quad9",
        status="old",
        answers=("192.0.2.1",),
        observed_at=datetime(2026, 12, 5, 23, 0, tzinfo=UTC),
        ttl=300.0,
        flips_by=datetime(2026, 12, 5, 23, 5, tzinfo=UTC),
        flags=("serve-stale",),
    )
    assert sorted(view.statuses("A upload")) == [
        "new",
        "old",
    ]


def test_malformed_payload_fields_are_unknown_not_a_crash() -> None:
    signals = Signals()
    signals.dns_records["r"] = {"percent_new": "lots", "new": None, "failed": True, "eta": "soon"}
    signals.dns_verdicts[("r", "x")] = {
        "answers": "192.0.2.1",  # not a list
        "ttl": "300",
        "observed_at": 17,
        "flips_by": "not a time",
        "flags": [1, "ttl-above-zone", None],
    }
    signals.flow_sites[("f", "site-1")] = {"status": 3, "last_old": "garbage"}
    signals.flow_sides[("f", "old")] = {"last_seen": ["x"]}
    signals.reconciliations["counts"] = {"status": {"nested": 1}}
    view = DnsView(signals)
    (record,) = view.records
    assert (record.percent_new, record.new, record.failed, record.eta) == (None, 0, 0, None)
    (verdict,) = view.verdicts("r")
    assert (verdict.status, verdict.answers, verdict.ttl) == ("?", (), None)
    assert (verdict.observed_at, verdict.flips_by, verdict.flags) == (
        None,
        None,
        ("ttl-above-zone",),
    )
    flows = flows_view(signals)
    assert flows.sites["f"] == (SiteView("site-1", "?", None, None, None),)
    assert flows.sides[("f", "old")].status == "?" and flows.sides[("f", "old")].last_seen is None
    assert flows.reconciliations == (("counts", "?"),)
