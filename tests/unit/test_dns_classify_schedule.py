"""The classifier, tracker and scheduler on recorded messages (no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rrset

from cutover_console.dns.classify import TrackedRecord, classify
from cutover_console.dns.resolvers import PUBLIC_RESOLVERS, ResolverInfo
from cutover_console.dns.schedule import SchedulePolicy, hold_for_quiet, next_due
from cutover_console.dns.tracker import (
    OLD_AFTER_NEW,
    SERVE_STALE,
    TTL_ABOVE_ZONE,
    TTL_NOT_DECREASING,
    PairState,
    pair_flips_by,
    update_pair,
)

T0 = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)
OLD, NEW = "198.51.100.10", "203.0.113.20"
REC = TrackedRecord("shop01.x.test", "A", frozenset({OLD}), frozenset({NEW}), 300)
UNICAST = ResolverInfo("lab", "127.0.0.1", 53, anycast=False)
ANYCAST = ResolverInfo("big", "127.0.0.2", 53, anycast=True)


def response(
    *records: tuple[str, int, str, str],
    rcode: int = dns.rcode.NOERROR,
    soa: tuple[int, int] | None = None,
    ede: int | None = None,
    ad: bool = False,
) -> dns.message.Message:
    query = dns.message.make_query(REC.name, "A", use_edns=0)
    msg = dns.message.make_response(query)
    msg.set_rcode(rcode)
    for name, ttl, rtype, value in records:
        msg.answer.append(
            dns.rrset.from_text(name.rstrip(".") + ".", ttl, "IN", rtype, *value.split("|"))
        )
    if soa is not None:
        ttl, minimum = soa
        msg.authority.append(
            dns.rrset.from_text(
                "x.test.", ttl, "IN", "SOA", f"ns1.x.test. h.x.test. 1 3600 600 86400 {minimum}"
            )
        )
    if ede is not None:
        msg.use_edns(0, options=[dns.edns.EDEOption(ede)])
    if ad:
        msg.flags |= dns.flags.AD
    return dns.message.from_wire(msg.to_wire())  # as if it came off the wire


def test_classify_every_answer_status() -> None:
    def status(msg: dns.message.Message) -> str:
        return classify(msg, REC, T0, 1.0).status

    assert status(response((REC.name, 120, "A", NEW))) == "new"
    assert status(response((REC.name, 120, "A", OLD))) == "old"
    assert status(response((REC.name, 120, "A", f"{OLD}|{NEW}"))) == "mixed"
    assert status(response((REC.name, 120, "A", "192.0.2.1"))) == "other"
    assert status(response((REC.name, 120, "A", f"{OLD}|192.0.2.1"))) == "other"
    assert status(response(rcode=dns.rcode.NXDOMAIN, soa=(900, 60))) == "nxdomain"
    assert status(response(soa=(900, 60))) == "nodata"
    assert status(response(rcode=dns.rcode.SERVFAIL)) == "servfail"
    assert status(response(rcode=dns.rcode.REFUSED)) == "refused"
    assert status(response(rcode=dns.rcode.NOTIMP)) == "error"


def test_cname_chain_uses_the_changed_rrsets_ttl() -> None:
    msg = response(
        (REC.name, 3600, "CNAME", "app.x.test."),
        ("app.x.test", 30, "CNAME", "lb.x.test."),
        ("lb.x.test", 20, "A", OLD),
    )
    verdict = classify(msg, REC, T0, 1.0)
    assert verdict.status == "old" and verdict.chain == ["app.x.test", "lb.x.test"]
    assert verdict.ttl == 20 and verdict.expires_at == T0 + timedelta(seconds=20)


def test_negative_ttl_is_min_of_soa_ttl_and_minimum() -> None:
    assert classify(response(rcode=dns.rcode.NXDOMAIN, soa=(900, 60)), REC, T0, 1).ttl == 60
    assert classify(response(soa=(45, 60)), REC, T0, 1).ttl == 45


def test_ad_flag_and_stale_ede_are_kept() -> None:
    verdict = classify(response((REC.name, 30, "A", OLD), ede=3, ad=True), REC, T0, 1.0)
    assert verdict.ad and verdict.stale


def observe(
    pair: PairState,
    status: str,
    at: float,
    ttl: int | None,
    zone_ttl: int = 300,
    authority_new_since: datetime | None = None,
) -> set[str]:
    value = {"old": OLD, "new": NEW}[status]
    verdict = classify(
        response((REC.name, ttl or 0, "A", value)), REC, T0 + timedelta(seconds=at), 1.0
    )
    return update_pair(pair, verdict, zone_ttl, authority_new_since)


def test_prediction_is_max_over_old_observations_for_anycast() -> None:
    pair = PairState()
    observe(pair, "old", 0, 100)  # cache A: flips at 100
    observe(pair, "new", 10, 300)  # cache B already new
    observe(pair, "old", 20, 250)  # cache C: flips at 270
    assert pair_flips_by(pair) == T0 + timedelta(seconds=270)
    assert OLD_AFTER_NEW in pair.flags
    observe(pair, "old", 30, 50)  # a shorter copy does not pull the prediction earlier
    assert pair_flips_by(pair) == T0 + timedelta(seconds=270)
    observe(pair, "new", 280, 300)
    assert pair_flips_by(pair) is None


def test_flags() -> None:
    capped = PairState()
    observe(capped, "old", 0, 10, zone_ttl=300)
    assert observe(capped, "old", 5, 10, zone_ttl=300) == {TTL_NOT_DECREASING}
    raised = PairState()
    assert TTL_ABOVE_ZONE in observe(raised, "old", 0, 600, zone_ttl=300)
    stale = PairState()
    observe(stale, "old", 0, 10)
    switched = T0 - timedelta(seconds=1)
    assert SERVE_STALE in observe(stale, "old", 15, 30, authority_new_since=switched)
    zero = PairState()
    assert SERVE_STALE in observe(zero, "old", 0, 0)
    honest = PairState()  # refreshed old copies before the switch are not stale
    observe(honest, "old", 0, 10)
    assert observe(honest, "old", 11, 10, zone_ttl=10) == set()


def test_schedule_waits_for_expiry_and_samples_anycast() -> None:
    policy = SchedulePolicy()
    pair = PairState()
    assert next_due(pair, UNICAST, policy) is None  # never asked: now
    observe(pair, "old", 0, 600)
    assert next_due(pair, UNICAST, policy) == T0 + timedelta(seconds=600.5)
    assert next_due(pair, ANYCAST, policy) == T0 + timedelta(seconds=5)  # learning its caches
    short = PairState()
    observe(short, "old", 0, 10)
    short.repeats = policy.discovery_repeats  # caches learned: visit the expiry itself
    assert next_due(short, ANYCAST, policy, zone_ttl=10) == T0 + timedelta(seconds=10.5)
    capped = PairState()
    observe(capped, "old", 0, 20)
    # below the zone's TTL: verify mid-copy that it counts down
    assert next_due(capped, UNICAST, policy, zone_ttl=300) == T0 + timedelta(seconds=10)
    flipped = PairState()
    observe(flipped, "new", 0, 300)
    assert next_due(flipped, UNICAST, policy) == T0 + timedelta(seconds=300)
    assert next_due(flipped, ANYCAST, policy) == T0 + timedelta(seconds=60)


def test_schedule_backs_off_failures() -> None:
    pair = PairState()
    verdict = classify(response(rcode=dns.rcode.SERVFAIL), REC, T0, 1.0)
    gaps = []
    for _ in range(8):
        update_pair(pair, verdict, None)
        due = next_due(pair, UNICAST, SchedulePolicy())
        assert due is not None
        gaps.append((due - T0).total_seconds())
    assert gaps[:3] == [2, 4, 8] and gaps[-1] == 60


def test_quiet_period_holds_until_the_switch() -> None:
    switch = T0 + timedelta(minutes=3)
    policy = SchedulePolicy(switch_at=switch, quiet=timedelta(minutes=5))
    assert hold_for_quiet(None, T0, policy) == switch
    assert hold_for_quiet(T0 + timedelta(minutes=4), T0, policy) == T0 + timedelta(minutes=4)
    before = SchedulePolicy(switch_at=T0 + timedelta(minutes=30), quiet=timedelta(minutes=5))
    assert hold_for_quiet(None, T0, before) is None


def test_builtin_resolver_set() -> None:
    assert len(PUBLIC_RESOLVERS) >= 25
    assert len({r.operator for r in PUBLIC_RESOLVERS}) >= 20
    assert any(":" in r.address for r in PUBLIC_RESOLVERS)
    assert len({r.region for r in PUBLIC_RESOLVERS}) >= 6
    assert len({r.address for r in PUBLIC_RESOLVERS}) == len(PUBLIC_RESOLVERS)


def test_anycast_caches_are_learned_then_each_expiry_visited() -> None:
    policy = SchedulePolicy()
    pair = PairState()
    observe(pair, "old", 0, 200)  # cache A
    assert next_due(pair, ANYCAST, policy) == T0 + timedelta(seconds=5)  # still learning
    observe(pair, "old", 5, 100)  # cache B (expires at 105)
    observe(pair, "old", 10, 190)  # cache A again
    observe(pair, "old", 15, 185)  # A
    observe(pair, "old", 20, 85)  # B: three repeats, learning ends
    assert pair.known_copies == 2
    assert next_due(pair, ANYCAST, policy) == T0 + timedelta(seconds=80)  # sample before 105.5
    observe(pair, "new", 106, 300)  # B flipped; A (200) still pending
    assert next_due(pair, ANYCAST, policy) == T0 + timedelta(seconds=200.5)
    assert pair.flips_by == T0 + timedelta(seconds=200)
