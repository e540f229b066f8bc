"""The limiter's interface and the booking arithmetic both implementations share.

Contract: `Limiter` is what the engine calls (`take` a batch of in-flight slots with a booked send
time each, `release` them, `slow_down` on a 429, `pause` / `paused_for` after an authentication
failure). Time is integer microseconds since the epoch; `interval_us` rounds the spacing between
two bookings up, so a booked rate never exceeds the configured one, and `effective_factor` is the
429 slow-down factor recovering by RECOVERY every RECOVERY_STEP seconds. No I/O here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

MIN_FACTOR = 0.05
RECOVERY = 1.25
RECOVERY_STEP = 2.0  # seconds between recovery steps
SLOWDOWN_GAP = 1.0  # a burst of 429s from one moment counts once


def now_us() -> int:
    return time.time_ns() // 1000


def interval_us(rate: float, factor: float) -> int:
    """Microseconds between two bookings: rounded up, so the rate is never exceeded."""
    return math.ceil(1_000_000 / (rate * factor))


def effective_factor(factor: float, factor_at: float, now: float) -> float:
    if factor >= 1:
        return 1.0
    steps = max(0, math.floor((now - factor_at) / RECOVERY_STEP))
    return min(1.0, factor * RECOVERY**steps)


US = 1_000_000


class Limiter:
    """Interface; `get_limiter()` returns the configured implementation."""

    def try_acquire(self, provider_id: int, limit: int, ttl: float) -> str | None:
        """Take one in-flight slot; a token to release, or None when all `limit` slots are busy."""
        raise NotImplementedError

    def release(self, provider_id: int, tokens: list[str]) -> None:
        raise NotImplementedError

    def reserve(self, provider_id: int, rate: float) -> float:
        """Book the next send; returns how many seconds to wait before sending."""
        raise NotImplementedError

    def slow_down(self, provider_id: int) -> float:
        """Record a 429; returns the new rate factor."""
        raise NotImplementedError

    def factor(self, provider_id: int) -> float:
        raise NotImplementedError

    def pause(self, provider_id: int, seconds: float) -> None:
        raise NotImplementedError

    def paused_for(self, provider_id: int) -> float:
        raise NotImplementedError

    def reset(self, provider_id: int) -> None:
        raise NotImplementedError

    def take(
        self, provider_id: int, *, limit: int, ttl: float, rate: float, n: int, release: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """Up to n (slot token, seconds to wait) pairs: in-flight slots plus a booked send time each,
        after releasing the slots `release` (a finished batch's, handed straight to the next sends)."""
        if release:
            self.release(provider_id, list(release))
        taken = []
        for _ in range(n):
            token = self.try_acquire(provider_id, limit, ttl)
            if token is None:
                break
            taken.append((token, self.reserve(provider_id, rate)))
        return taken
