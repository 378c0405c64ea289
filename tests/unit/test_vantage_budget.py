"""The Globalping round scheduler: the cadence, held back by the hourly budget and the API."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from cutover_console.dns.vantage.budget import BudgetLedger, next_round

T0 = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def simulate(hours: int, probes: int, limit: int) -> list[datetime]:
    ledger, spends, now, last = BudgetLedger(limit), [], T0, None
    while now < T0 + timedelta(hours=hours):
        due = next_round(last, FIVE, ledger, probes, now)
        assert due is not None
        if due > now:
            now = due
            continue
        ledger.spend(now, probes)
        spends.append(now)
        last, now = now, now + timedelta(seconds=1)
    return spends


def test_rounds_at_cadence_when_the_budget_allows() -> None:
    spends = simulate(3, probes=10, limit=250)  # 12 x 10 = 120 an hour: nothing held back
    assert len(spends) == 36
    assert all(b - a == FIVE for a, b in itertools.pairwise(spends))


def test_budget_never_exceeded_in_any_rolling_hour() -> None:
    spends = simulate(6, probes=50, limit=250)
    assert len(spends) == 6 * 5  # five rounds an hour, not twelve
    for t in spends:
        assert sum(50 for s in spends if t <= s < t + timedelta(hours=1)) <= 250


def test_the_api_can_only_hold_rounds_back() -> None:
    ledger = BudgetLedger(250)
    ledger.api_says(T0, remaining=20, reset=900, cost=50)  # spent elsewhere this hour
    assert next_round(None, FIVE, ledger, 50, T0) == T0 + timedelta(seconds=900)
    ledger.api_says(T0, remaining=240, reset=10, cost=50)  # never brings it forward
    assert next_round(None, FIVE, ledger, 50, T0) == T0 + timedelta(seconds=900)
    assert BudgetLedger(40).affordable_at(T0, 50) is None  # a round that can never fit
