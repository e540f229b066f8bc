"""Per-provider limits shared by every worker process on every machine.

Concurrency: a set of slots with an expiry (a dead worker's slots free themselves). Rate: GCRA, the
"theoretical arrival time" of the next request moves 1/rate forward per request, so requests are evenly
spaced and no 1-second window holds more than rate + 1. A 429 halves the provider's rate factor (at
most once per second) and the factor recovers by RECOVERY every RECOVERY_STEP seconds.

Redis (settings.REDIS_URL set) runs each decision in one Lua script against the Redis clock; without
Redis the same decisions run in short database transactions on `ProviderThrottle` / `SendSlot` rows.

Time is kept as integer microseconds since the epoch, in Redis and in the database (1.8e15 fits a
double exactly; Lua's `tostring()` would keep 14 digits, 0.1 ms at epoch scale, and a rate kept that
way drifted: 300/s gave 303/s, 4,600 gave 5,000). Each booking advances the arrival time by
ceil(1e6 / rate) microseconds, never less than the interval, so the long-run rate never exceeds the
configured one (at 4,600/s it is 4,587/s). Both implementations take an injectable clock (integer
microseconds) for tests; Redis then gets "now" from the caller instead of its own TIME.
"""

from __future__ import annotations

import datetime
import math
import threading
from dataclasses import dataclass

from django.conf import settings

from .base import (
    MIN_FACTOR,
    RECOVERY,
    RECOVERY_STEP,
    SLOWDOWN_GAP,
    US,
    Limiter,
    effective_factor,
    interval_us,
    now_us,
)
from .database import DatabaseLimiter
from .redis_limiter import RedisLimiter

__all__ = [
    "MIN_FACTOR", "RECOVERY", "RECOVERY_STEP", "SLOWDOWN_GAP", "US", "DatabaseLimiter", "Limiter",
    "ProviderPause", "RedisLimiter", "effective_factor", "get_limiter", "interval_us", "now_us",
    "provider_pause",
]  # fmt: skip

_lock = threading.Lock()
_limiters: dict[str, Limiter] = {}


def get_limiter() -> Limiter:
    """The process-wide limiter for the current settings (Redis when REDIS_URL is set)."""
    url = settings.REDIS_URL
    with _lock:
        if url not in _limiters:
            _limiters[url] = RedisLimiter(url) if url else DatabaseLimiter()
        return _limiters[url]


@dataclass(frozen=True)
class ProviderPause:
    """Why and until when a provider's sends wait (shown on the campaign page)."""

    until: datetime.datetime
    seconds: int  # left, rounded up
    reason: str


def provider_pause(provider) -> ProviderPause | None:
    """The provider's current dispatch pause (authentication failing), or None."""
    seconds = get_limiter().paused_for(provider.pk)
    if seconds <= 0:
        return None
    until = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=seconds)
    reason = provider.health_reason or "the provider refused our credentials"
    return ProviderPause(until=until, seconds=math.ceil(seconds), reason=reason)
