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
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

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


# -- Redis ------------------------------------------------------------------------------------------

# ARGV[1] is "now" in microseconds, or -1 for the Redis clock. Every number handed to Redis goes
# through string.format('%.0f'): redis.call turns a Lua number into text with 14 digits.
_NOW = (
    "local now = tonumber(ARGV[1]) if now < 0 then local t = redis.call('TIME') "
    "now = tonumber(t[1]) * 1000000 + tonumber(t[2]) end "
    "local function us(x) return string.format('%.0f', x) end "
)
_FACTOR = (
    "local function eff(f, at, now) if f >= 1 then return 1 end "
    "local s = math.max(0, math.floor((now - at) / tonumber(ARGV[4]))) "
    "return math.min(1, f * tonumber(ARGV[3]) ^ s) end "
)
# ARGV: now, limit, ttl_us, token
ACQUIRE_LUA = (
    _NOW + "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', us(now)) "
    "if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then "
    "redis.call('ZADD', KEYS[1], us(now + tonumber(ARGV[3])), ARGV[4]) "
    "redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) / 1000000) + 60) return 1 end return 0"
)
# ARGV: now, rate, RECOVERY, RECOVERY_STEP (us). Returns the wait in microseconds.
RESERVE_LUA = (
    _NOW + _FACTOR + "local h = redis.call('HMGET', KEYS[1], 'tat_us', 'factor', 'factor_at_us') "
    "local tat = tonumber(h[1]) or 0 local f = eff(tonumber(h[2]) or 1, tonumber(h[3]) or 0, now) "
    "local start = math.max(now, tat) "
    "redis.call('HSET', KEYS[1], 'tat_us', us(start + math.ceil(1000000 / (tonumber(ARGV[2]) * f)))) "
    "redis.call('EXPIRE', KEYS[1], 86400) return start - now"
)
# ARGV: now, MIN_FACTOR, RECOVERY, RECOVERY_STEP (us), SLOWDOWN_GAP (us)
SLOW_LUA = (
    _NOW + _FACTOR + "local h = redis.call('HMGET', KEYS[1], 'factor', 'factor_at_us') "
    "local at = tonumber(h[2]) or 0 local f = eff(tonumber(h[1]) or 1, at, now) "
    "if now - at >= tonumber(ARGV[5]) then f = math.max(tonumber(ARGV[2]), f / 2) "
    "redis.call('HSET', KEYS[1], 'factor', tostring(f), 'factor_at_us', us(now)) end "
    "redis.call('EXPIRE', KEYS[1], 86400) return tostring(f)"
)
FACTOR_LUA = (
    _NOW + _FACTOR + "local h = redis.call('HMGET', KEYS[1], 'factor', 'factor_at_us') "
    "return tostring(eff(tonumber(h[1]) or 1, tonumber(h[2]) or 0, now))"
)
PAUSED_LUA = _NOW + "local u = tonumber(redis.call('GET', KEYS[1]) or '0') return math.max(0, u - now)"
PAUSE_LUA = _NOW + "redis.call('SET', KEYS[1], us(now + tonumber(ARGV[2])), 'EX', 3600) return 1"
# A whole batch in one round trip: release r slots, then take up to n slots (KEYS[1]) and a booked
# send time for each (KEYS[2]). ARGV: now, rate, RECOVERY, RECOVERY_STEP (us), limit, ttl (us), r,
# the r tokens to release, the n new tokens. Returns the wait of each slot taken, in microseconds.
TAKE_LUA = (
    _NOW + _FACTOR + "local r = tonumber(ARGV[7]) "
    "if r > 0 then redis.call('ZREM', KEYS[1], unpack(ARGV, 8, 7 + r)) end "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', us(now)) "
    "local first = 8 + r "
    "local k = math.min(#ARGV - first + 1, tonumber(ARGV[5]) - redis.call('ZCARD', KEYS[1])) "
    "if k <= 0 then return {} end "
    "local h = redis.call('HMGET', KEYS[2], 'tat_us', 'factor', 'factor_at_us') "
    "local interval = math.ceil(1000000 / (tonumber(ARGV[2]) * "
    "eff(tonumber(h[2]) or 1, tonumber(h[3]) or 0, now))) "
    "local start = math.max(now, tonumber(h[1]) or 0) local waits = {} "
    "local expires = us(now + tonumber(ARGV[6])) "
    "for i = 1, k do redis.call('ZADD', KEYS[1], expires, ARGV[first + i - 1]) "
    "waits[i] = start + (i - 1) * interval - now end "
    "redis.call('HSET', KEYS[2], 'tat_us', us(start + k * interval)) "
    "redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[6]) / 1000000) + 60) "
    "redis.call('EXPIRE', KEYS[2], 86400) return waits"
)

US = 1_000_000


class RedisLimiter(Limiter):
    def __init__(self, url: str, *, clock: Callable[[], int] | None = None):
        """`clock`: integer microseconds handed to every script as "now" (tests); default the Redis clock."""
        import redis

        self.client = redis.Redis.from_url(url)
        self.clock = clock
        self.prefix = "rcs:engine:"
        self._acquire = self.client.register_script(ACQUIRE_LUA)
        self._reserve = self.client.register_script(RESERVE_LUA)
        self._slow = self.client.register_script(SLOW_LUA)
        self._factor = self.client.register_script(FACTOR_LUA)
        self._paused = self.client.register_script(PAUSED_LUA)
        self._pause = self.client.register_script(PAUSE_LUA)
        self._take = self.client.register_script(TAKE_LUA)

    def _key(self, provider_id: int, what: str) -> str:
        return f"{self.prefix}{provider_id}:{what}"

    def _now(self) -> int:
        return self.clock() if self.clock else -1

    def try_acquire(self, provider_id: int, limit: int, ttl: float) -> str | None:
        token = secrets.token_hex(8)
        args = [self._now(), limit, round(ttl * US), token]
        ok = self._acquire(keys=[self._key(provider_id, "slots")], args=args)
        return token if ok else None

    def take(
        self, provider_id: int, *, limit: int, ttl: float, rate: float, n: int, release: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        if n <= 0:
            self.release(provider_id, list(release))
            return []
        tokens = [secrets.token_hex(8) for _ in range(n)]
        keys = [self._key(provider_id, "slots"), self._key(provider_id, "rate")]
        args = [
            self._now(), rate, RECOVERY, round(RECOVERY_STEP * US), limit, round(ttl * US),
            len(release), *release, *tokens,
        ]  # fmt: skip
        waits = self._take(keys=keys, args=args)
        return [(token, int(wait) / US) for token, wait in zip(tokens, waits, strict=False)]

    def release(self, provider_id: int, tokens: list[str]) -> None:
        if tokens:
            self.client.zrem(self._key(provider_id, "slots"), *tokens)

    def reserve(self, provider_id: int, rate: float) -> float:
        args = [self._now(), rate, RECOVERY, round(RECOVERY_STEP * US)]
        return int(self._reserve(keys=[self._key(provider_id, "rate")], args=args)) / US

    def slow_down(self, provider_id: int) -> float:
        args = [self._now(), MIN_FACTOR, RECOVERY, round(RECOVERY_STEP * US), round(SLOWDOWN_GAP * US)]
        return float(self._slow(keys=[self._key(provider_id, "rate")], args=args))

    def factor(self, provider_id: int) -> float:
        args = [self._now(), 0, RECOVERY, round(RECOVERY_STEP * US)]
        return float(self._factor(keys=[self._key(provider_id, "rate")], args=args))

    def pause(self, provider_id: int, seconds: float) -> None:
        self._pause(keys=[self._key(provider_id, "paused")], args=[self._now(), round(seconds * US)])

    def paused_for(self, provider_id: int) -> float:
        return int(self._paused(keys=[self._key(provider_id, "paused")], args=[self._now()])) / US

    def reset(self, provider_id: int) -> None:
        self.client.delete(*(self._key(provider_id, w) for w in ("slots", "rate", "paused")))

    def in_flight(self, provider_id: int) -> int:
        key = self._key(provider_id, "slots")
        return self.client.zcount(key, self.clock() if self.clock else now_us(), "+inf")


# -- Database -----------------------------------------------------------------------------------------


class DatabaseLimiter(Limiter):
    """The embedded default: the same decisions under a row lock on ProviderThrottle."""

    def __init__(self, *, clock: Callable[[], int] = now_us):
        """`clock`: integer microseconds since the epoch (injected by tests)."""
        self.clock = clock

    def _locked(self, provider_id: int):
        from campaigns.models import ProviderThrottle

        ProviderThrottle.objects.get_or_create(provider_id=provider_id)
        return ProviderThrottle.objects.select_for_update().get(provider_id=provider_id)

    def _factor_of(self, row, now: int) -> float:
        return effective_factor(row.factor, row.factor_at_us / US, now / US)

    def try_acquire(self, provider_id: int, limit: int, ttl: float) -> str | None:
        from campaigns.models import SendSlot

        with transaction.atomic():
            self._locked(provider_id)
            now = self.clock() / US
            SendSlot.objects.filter(provider_id=provider_id, expires__lt=now).delete()
            if SendSlot.objects.filter(provider_id=provider_id).count() >= limit:
                return None
            token = secrets.token_hex(8)
            SendSlot.objects.create(provider_id=provider_id, token=token, expires=now + ttl)
            return token

    def take(
        self, provider_id: int, *, limit: int, ttl: float, rate: float, n: int, release: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        """One transaction for a whole batch (the per-message form costs several round trips each)."""
        from campaigns.models import SendSlot

        with transaction.atomic():
            row = self._locked(provider_id)
            if release:
                SendSlot.objects.filter(token__in=list(release)).delete()
            now = self.clock()
            SendSlot.objects.filter(provider_id=provider_id, expires__lt=now / US).delete()
            free = limit - SendSlot.objects.filter(provider_id=provider_id).count()
            tokens = [secrets.token_hex(8) for _ in range(max(0, min(n, free)))]
            if not tokens:
                return []
            SendSlot.objects.bulk_create(
                [SendSlot(provider_id=provider_id, token=t, expires=now / US + ttl) for t in tokens]
            )
            interval = interval_us(rate, self._factor_of(row, now))
            start = max(now, row.tat_us)
            waits = [(start + i * interval - now) / US for i in range(len(tokens))]
            row.tat_us = start + len(tokens) * interval
            row.save(update_fields=["tat_us"])
            return list(zip(tokens, waits, strict=True))

    def release(self, provider_id: int, tokens: list[str]) -> None:
        from campaigns.models import SendSlot

        if tokens:
            SendSlot.objects.filter(token__in=tokens).delete()

    def reserve(self, provider_id: int, rate: float) -> float:
        with transaction.atomic():
            row = self._locked(provider_id)
            now = self.clock()
            start = max(now, row.tat_us)
            row.tat_us = start + interval_us(rate, self._factor_of(row, now))
            row.save(update_fields=["tat_us"])
            return (start - now) / US

    def slow_down(self, provider_id: int) -> float:
        with transaction.atomic():
            row = self._locked(provider_id)
            now = self.clock()
            factor = self._factor_of(row, now)
            if now - row.factor_at_us >= SLOWDOWN_GAP * US:
                row.factor, row.factor_at_us = max(MIN_FACTOR, factor / 2), now
                row.save(update_fields=["factor", "factor_at_us"])
                factor = row.factor
            return factor

    def factor(self, provider_id: int) -> float:
        from campaigns.models import ProviderThrottle

        row = ProviderThrottle.objects.filter(provider_id=provider_id).first()
        return self._factor_of(row, self.clock()) if row else 1.0

    def pause(self, provider_id: int, seconds: float) -> None:
        from campaigns.models import ProviderThrottle

        ProviderThrottle.objects.get_or_create(provider_id=provider_id)
        until = self.clock() + round(seconds * US)
        ProviderThrottle.objects.filter(provider_id=provider_id).update(paused_until_us=until)

    def paused_for(self, provider_id: int) -> float:
        from campaigns.models import ProviderThrottle

        row = ProviderThrottle.objects.filter(provider_id=provider_id).first()
        return max(0, row.paused_until_us - self.clock()) / US if row else 0.0

    def reset(self, provider_id: int) -> None:
        from campaigns.models import ProviderThrottle, SendSlot

        ProviderThrottle.objects.filter(provider_id=provider_id).delete()
        SendSlot.objects.filter(provider_id=provider_id).delete()

    def in_flight(self, provider_id: int) -> int:
        from campaigns.models import SendSlot

        return SendSlot.objects.filter(provider_id=provider_id, expires__gte=self.clock() / US).count()


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
