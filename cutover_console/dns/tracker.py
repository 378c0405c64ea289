"""What we know about each (resolver, record) pair over time: the latest verdict, when its old copy
expires (the flip prediction), and signs that a resolver does not behave as its TTLs say."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .classify import ANSWERED, FAILED, Verdict

STEP_TOLERANCE = timedelta(seconds=2)

# Flags a pair can carry (shown in the pane and the JSON):
TTL_NOT_DECREASING = "ttl-not-decreasing"  # a cap reported but not honoured (dnsmasq --max-ttl)
TTL_ABOVE_ZONE = "ttl-above-zone"  # longer than the authority's TTL (cache-min-ttl)
SERVE_STALE = "serve-stale"  # EDE "Stale Answer", TTL 0, or old past its own expiry
OLD_AFTER_NEW = "old-after-new"  # several caches behind one address, or a stale fallback


@dataclass
class PairState:
    """One resolver's view of one record."""

    verdict: Verdict | None = None
    # Expiry of every distinct old copy seen and not yet expired: behind an anycast address each
    # cache holds its own copy. The prediction is their max; the scheduler visits each expiry.
    pending: list[datetime] = field(default_factory=list)
    known_copies: int = 0  # distinct old copies seen so far
    repeats: int = 0  # old answers in a row that showed no copy we had not seen
    first_new_at: datetime | None = None
    flags: set[str] = field(default_factory=set)
    failures: int = 0  # consecutive failed probes (for back-off)
    queries: int = 0

    @property
    def status(self) -> str:
        return self.verdict.status if self.verdict is not None else "pending"

    @property
    def flips_by(self) -> datetime | None:
        return max(self.pending) if self.pending else None

    def _note_copy(self, expiry: datetime, now: datetime) -> None:
        self.pending = [e for e in self.pending if e > now]
        if all(abs((e - expiry).total_seconds()) > 1 for e in self.pending):
            self.pending.append(expiry)
            self.pending.sort()
            self.known_copies += 1
            self.repeats = 0
        else:
            self.repeats += 1


def update_pair(
    pair: PairState,
    verdict: Verdict,
    zone_ttl: int | None,
    authority_new_since: datetime | None = None,
) -> set[str]:
    """Fold one verdict in; returns the flags that appeared with it.

    `authority_new_since`: when every authority started serving the new value (if it does): an
    old answer after the old copy's expiry is then stale, not a legitimate refresh."""
    before = set(pair.flags)
    previous = pair.verdict
    pair.queries += 1
    if verdict.status in FAILED:
        pair.failures += 1
        pair.verdict = verdict
        return set()
    pair.failures = 0
    now = verdict.observed_at
    if verdict.status in ("old", "mixed"):
        expiry = verdict.expires_at or now
        if (
            previous is not None
            and previous.status in ("old", "mixed")
            and previous.ttl
            and verdict.ttl is not None
        ):
            gap = (now - previous.observed_at).total_seconds()
            # The same cached copy must have aged by the time between the polls.
            if gap >= 2 and gap < previous.ttl and verdict.ttl >= previous.ttl:
                pair.flags.add(TTL_NOT_DECREASING)
            if (
                pair.flips_by is not None
                and authority_new_since is not None
                and authority_new_since <= pair.flips_by
                and now > pair.flips_by + STEP_TOLERANCE
            ):
                pair.flags.add(SERVE_STALE)  # still old well after its own copy expired
        if verdict.stale or verdict.ttl == 0:
            pair.flags.add(SERVE_STALE)
        if pair.first_new_at is not None:
            pair.flags.add(OLD_AFTER_NEW)
        pair._note_copy(expiry, now)
    elif verdict.status == "new":
        if pair.first_new_at is None:
            pair.first_new_at = now
        pair.pending = [e for e in pair.pending if e > now]
    if (
        zone_ttl is not None
        and verdict.ttl is not None
        and verdict.status in ANSWERED
        and verdict.ttl > zone_ttl + 1
    ):
        pair.flags.add(TTL_ABOVE_ZONE)
    pair.verdict = verdict
    return pair.flags - before


def pair_flips_by(pair: PairState) -> datetime | None:
    """The prediction as reported: only for pairs whose current answer is old or mixed."""
    if pair.verdict is None or pair.verdict.status not in ("old", "mixed"):
        return None
    return pair.flips_by
