"""When the next Globalping round may start: the plan's cadence, within the hourly budget.

Globalping counts one point per probe per measurement, in a window that resets every hour. A
rolling ledger of what was spent in the last hour is stricter than any fixed window it can
overlap, so a round that fits the ledger never exceeds the API's limit, whenever its window
starts. What the API itself says (`/v1/limits`, the `X-RateLimit-*` headers, a 429's
`Retry-After`) can only hold a round back further, never bring it forward.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

WINDOW = timedelta(hours=1)


@dataclass
class BudgetLedger:
    """Points spent in the last hour, and the earliest time the API will take more."""

    per_hour: int
    spent: deque[tuple[datetime, int]] = field(default_factory=deque)
    blocked_until: datetime | None = None  # from a 429 or an exhausted /v1/limits

    def _forget(self, now: datetime) -> None:
        while self.spent and self.spent[0][0] <= now - WINDOW:
            self.spent.popleft()

    def in_window(self, now: datetime) -> int:
        self._forget(now)
        return sum(points for _, points in self.spent)

    def affordable_at(self, now: datetime, points: int) -> datetime | None:
        """The earliest time `points` more fit the budget (None: they never will)."""
        if points > self.per_hour:
            return None
        self._forget(now)
        when = now
        if self.blocked_until is not None and self.blocked_until > when:
            when = self.blocked_until
        total = sum(p for at, p in self.spent if at > when - WINDOW)
        for at, p in self.spent:  # oldest first: wait until enough have left the window
            if total + points <= self.per_hour:
                break
            if at > when - WINDOW:
                when = at + WINDOW
                total -= p
        return when

    def spend(self, now: datetime, points: int) -> None:
        if points > 0:
            self.spent.append((now, points))

    def api_says(self, now: datetime, remaining: int | None, reset: int | None, cost: int) -> None:
        """The API's own count: with fewer points left than a round costs, wait for its reset."""
        if remaining is not None and reset is not None and remaining < cost:
            self.block(now + timedelta(seconds=max(reset, 1)))

    def block(self, until: datetime) -> None:
        if self.blocked_until is None or until > self.blocked_until:
            self.blocked_until = until


def next_round(
    last_start: datetime | None, cadence: timedelta, ledger: BudgetLedger, cost: int, now: datetime
) -> datetime | None:
    """When the next round starts: a cadence after the last one, once its cost fits."""
    due = now if last_start is None else max(now, last_start + cadence)
    return ledger.affordable_at(due, cost)
