"""Time, injectable: the real clock in production, a manual or sped-up one in tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

# re-exported: the journal's timestamp format lives with every other one
from .timestamps import format_ts as format_ts
from .timestamps import parse_ts as parse_ts


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests, replays)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)


class ScaledClock:
    """World time running `speed` times faster than real time from `start` (the rehearsal world,
    and every engine watching it, share one). `speed=1` is real time shifted to `start`."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs an aware datetime")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start.astimezone(UTC)
        self.speed = float(speed)
        self.skipped = timedelta(0)  # all the jumps so far
        self._t0 = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def jump(self, delta: timedelta) -> datetime:
        """Skip ahead (a rehearsal world skipping a night where nothing is planned). Never
        backwards: journal timestamps only grow."""
        if delta > timedelta(0):
            self.start += delta
            self.skipped += delta
        return self.now()


def world_clock(spec: dict[str, object]) -> ScaledClock:
    """The clock of a sped-up world, from what its journal recorded at creation: a watcher in
    another process shows the same time as the lead's console."""
    world_at = datetime.fromisoformat(str(spec["world_at"]))
    real_at = datetime.fromisoformat(str(spec["real_at"]))
    speed = float(str(spec["speed"]))
    elapsed = (datetime.now(UTC) - real_at).total_seconds()
    return ScaledClock(world_at + timedelta(seconds=elapsed * speed), speed)


def real_seconds(clock: Clock, world_seconds: float) -> float:
    """How long to sleep, in real seconds, for `world_seconds` to pass on `clock`."""
    return world_seconds / float(getattr(clock, "speed", 1.0))


