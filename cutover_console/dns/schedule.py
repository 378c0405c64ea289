"""When to ask each resolver about each record again: by TTL, not by a fixed interval.

A cache that answered with the old value and `r` seconds left cannot change before `t + r`, so
asking earlier only costs the resolver's patience (and, in the last TTL before a switch, plants a
fresh old copy: the observer effect). Anycast addresses front several caches, so they are sampled
between expiries; failures back off; a planned switch opens a quiet period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .classify import FAILED
from .resolvers import ResolverInfo
from .tracker import PairState

AFTER_EXPIRY = timedelta(milliseconds=500)  # ask just after the copy expires


@dataclass(frozen=True)
class SchedulePolicy:
    anycast_sample: timedelta = timedelta(seconds=60)  # between expiries, for other caches
    discovery: timedelta = timedelta(seconds=5)  # while an anycast address keeps showing new copies
    discovery_repeats: int = 3  # old answers with no unseen copy before discovery ends
    new_recheck: timedelta = timedelta(seconds=300)  # a flipped pair, for old-after-new
    min_gap: timedelta = timedelta(seconds=1)
    max_backoff: timedelta = timedelta(seconds=60)
    switch_at: datetime | None = None
    quiet: timedelta = timedelta(0)  # length of the quiet period before switch_at

    def in_quiet_period(self, now: datetime) -> bool:
        return self.switch_at is not None and self.switch_at - self.quiet <= now < self.switch_at


def next_due(
    pair: PairState, resolver: ResolverInfo, policy: SchedulePolicy, zone_ttl: int | None = None
) -> datetime | None:
    """When this pair should be asked next; None means now."""
    verdict = pair.verdict
    if verdict is None:
        return None
    seen = verdict.observed_at
    if verdict.status in FAILED:
        backoff = timedelta(seconds=min(2**pair.failures, policy.max_backoff.total_seconds()))
        return seen + backoff
    if (
        verdict.status in ("old", "mixed", "nxdomain", "nodata", "other")
        and verdict.ttl is not None
    ):
        expiry = verdict.expires_at
        assert expiry is not None
        due = max(expiry + AFTER_EXPIRY, seen + policy.min_gap)
        if resolver.anycast:
            # Learn the caches behind the address first (each answer may come from another one),
            # then visit each known expiry and only sample for caches not seen yet.
            learning = pair.repeats < policy.discovery_repeats
            due = min(due, seen + (policy.discovery if learning else policy.anycast_sample))
        if (
            zone_ttl is not None
            and verdict.ttl < zone_ttl
            and verdict.ttl >= 4
            and verdict.status in ("old", "mixed")
        ):
            # A TTL below the zone's is a cap: check once mid-copy that it really counts down.
            due = min(due, seen + timedelta(seconds=verdict.ttl / 2))
        return due
    if verdict.status == "new":
        upcoming = [e for e in pair.pending if e > seen]
        if upcoming:  # other caches behind this address still hold old copies we have seen
            return max(upcoming[0] + AFTER_EXPIRY, seen + policy.min_gap)
        # anycast: a cache we never hit may still be old; unicast: watch for old-after-new
        recheck = policy.anycast_sample if resolver.anycast else policy.new_recheck
        return seen + recheck
    return seen + policy.anycast_sample


def hold_for_quiet(due: datetime | None, now: datetime, policy: SchedulePolicy) -> datetime | None:
    """Inside the quiet period nothing is asked until the switch time."""
    moment = due or now
    if policy.in_quiet_period(moment):
        assert policy.switch_at is not None
        return policy.switch_at
    return due
