"""Per-provider limits shared by every worker process on every machine.

Concurrency: a set of slots with an expiry (a dead worker's slots free themselves). Rate: GCRA, the
"theoretical arrival time" of the next request moves 1/rate forward per request, so requests are evenly
spaced and no 1-second window holds more than rate + 1. A 429 halves the provider's rate factor (at
most once per second) and the factor recovers by RECOVERY every RECOVERY_STEP seconds.

Redis (settings.REDIS_URL set) runs each decision in one Lua script against the Redis clock; without
Redis the same decisions run in short database transactions on `ProviderThrottle` / `SendSlot` rows.
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

    def acquire(
        self, provider_id: int, limit: int, ttl: float, *, should_stop: Callable[[], bool] = lambda: False
    ) -> str | None:
        """Block until a slot is free (None if should_stop() turns true meanwhile)."""
        delay = 0.001
        while True:
            token = self.try_acquire(provider_id, limit, ttl)
            if token is not None:
                return token
            if should_stop():
                return None
            time.sleep(delay * (0.5 + secrets.randbelow(1000) / 1000))
            delay = min(delay * 2, 0.02)


# -- Redis ------------------------------------------------------------------------------------------

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 "
_FACTOR = (
    "local function eff(f, at, now) if f >= 1 then return 1 end "
    "local s = math.max(0, math.floor((now - at) / tonumber(ARGV[3]))) "
    "return math.min(1, f * tonumber(ARGV[2]) ^ s) end "
)
ACQUIRE_LUA = (
    _NOW + "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
    "if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then "
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3]) "
    "redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 60) return 1 end return 0"
)
RESERVE_LUA = (
    _NOW + _FACTOR + "local h = redis.call('HMGET', KEYS[1], 'tat', 'factor', 'factor_at') "
    "local tat = tonumber(h[1]) or 0 local f = eff(tonumber(h[2]) or 1, tonumber(h[3]) or 0, now) "
    "local start = math.max(now, tat) "
    "redis.call('HSET', KEYS[1], 'tat', tostring(start + 1 / (tonumber(ARGV[1]) * f))) "
    "redis.call('EXPIRE', KEYS[1], 86400) return tostring(start - now)"
)
SLOW_LUA = (
    _NOW + _FACTOR + "local h = redis.call('HMGET', KEYS[1], 'factor', 'factor_at') "
    "local at = tonumber(h[2]) or 0 local f = eff(tonumber(h[1]) or 1, at, now) "
    "if now - at >= tonumber(ARGV[4]) then f = math.max(tonumber(ARGV[1]), f / 2) "
    "redis.call('HSET', KEYS[1], 'factor', tostring(f), 'factor_at', tostring(now)) end "
    "redis.call('EXPIRE', KEYS[1], 86400) return tostring(f)"
)
FACTOR_LUA = (
    _NOW + _FACTOR + "local h = redis.call('HMGET', KEYS[1], 'factor', 'factor_at') "
    "return tostring(eff(tonumber(h[1]) or 1, tonumber(h[2]) or 0, now))"
)
PAUSED_LUA = (
    _NOW + "local u = tonumber(redis.call('GET', KEYS[1]) or '0') return tostring(math.max(0, u - now))"
)
PAUSE_LUA = _NOW + "redis.call('SET', KEYS[1], tostring(now + tonumber(ARGV[1])), 'EX', 3600) return 1"
# A whole batch in one round trip: release r slots, then take up to n slots (KEYS[1]) and a booked
# send time for each (KEYS[2]). ARGV: rate, RECOVERY, RECOVERY_STEP, limit, ttl, r, the r tokens to
# release, the n new tokens. Returns the wait of each slot taken.
TAKE_LUA = (
    _NOW + _FACTOR + "local r = tonumber(ARGV[6]) "
    "if r > 0 then redis.call('ZREM', KEYS[1], unpack(ARGV, 7, 6 + r)) end "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) "
    "local first = 7 + r "
    "local k = math.min(#ARGV - first + 1, tonumber(ARGV[4]) - redis.call('ZCARD', KEYS[1])) "
    "if k <= 0 then return {} end "
    "local h = redis.call('HMGET', KEYS[2], 'tat', 'factor', 'factor_at') "
    "local interval = 1 / (tonumber(ARGV[1]) * eff(tonumber(h[2]) or 1, tonumber(h[3]) or 0, now)) "
    "local start = math.max(now, tonumber(h[1]) or 0) local waits = {} "
    "for i = 1, k do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[first + i - 1]) "
    "waits[i] = tostring(start + (i - 1) * interval - now) end "
    "redis.call('HSET', KEYS[2], 'tat', tostring(start + k * interval)) "
    "redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[5])) + 60) "
    "redis.call('EXPIRE', KEYS[2], 86400) return waits"
)


class RedisLimiter(Limiter):
    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url)
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

    def try_acquire(self, provider_id: int, limit: int, ttl: float) -> str | None:
        token = secrets.token_hex(8)
        ok = self._acquire(keys=[self._key(provider_id, "slots")], args=[limit, ttl, token])
        return token if ok else None

    def take(
        self, provider_id: int, *, limit: int, ttl: float, rate: float, n: int, release: Sequence[str] = ()
    ) -> list[tuple[str, float]]:
        if n <= 0:
            self.release(provider_id, list(release))
            return []
        tokens = [secrets.token_hex(8) for _ in range(n)]
        keys = [self._key(provider_id, "slots"), self._key(provider_id, "rate")]
        args = [rate, RECOVERY, RECOVERY_STEP, limit, ttl, len(release), *release, *tokens]
        waits = self._take(keys=keys, args=args)
        return [(token, float(wait)) for token, wait in zip(tokens, waits, strict=False)]

    def release(self, provider_id: int, tokens: list[str]) -> None:
        if tokens:
            self.client.zrem(self._key(provider_id, "slots"), *tokens)

    def reserve(self, provider_id: int, rate: float) -> float:
        args = [rate, RECOVERY, RECOVERY_STEP]
        return float(self._reserve(keys=[self._key(provider_id, "rate")], args=args))

    def slow_down(self, provider_id: int) -> float:
        args = [MIN_FACTOR, RECOVERY, RECOVERY_STEP, SLOWDOWN_GAP]
        return float(self._slow(keys=[self._key(provider_id, "rate")], args=args))

    def factor(self, provider_id: int) -> float:
        args = [0, RECOVERY, RECOVERY_STEP]
        return float(self._factor(keys=[self._key(provider_id, "rate")], args=args))

    def pause(self, provider_id: int, seconds: float) -> None:
        self._pause(keys=[self._key(provider_id, "paused")], args=[seconds])

    def paused_for(self, provider_id: int) -> float:
        return float(self._paused(keys=[self._key(provider_id, "paused")]))

    def reset(self, provider_id: int) -> None:
        self.client.delete(*(self._key(provider_id, w) for w in ("slots", "rate", "paused")))

    def in_flight(self, provider_id: int) -> int:
        key = self._key(provider_id, "slots")
        return self.client.zcount(key, time.time(), "+inf")


# -- Database -----------------------------------------------------------------------------------------


class DatabaseLimiter(Limiter):
    """The embedded default: the same decisions under a row lock on ProviderThrottle."""

    def _locked(self, provider_id: int):
        from campaigns.models import ProviderThrottle

        ProviderThrottle.objects.get_or_create(provider_id=provider_id)
        return ProviderThrottle.objects.select_for_update().get(provider_id=provider_id)

    def try_acquire(self, provider_id: int, limit: int, ttl: float) -> str | None:
        from campaigns.models import SendSlot

        with transaction.atomic():
            self._locked(provider_id)
            now = time.time()
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
            now = time.time()
            SendSlot.objects.filter(provider_id=provider_id, expires__lt=now).delete()
            free = limit - SendSlot.objects.filter(provider_id=provider_id).count()
            tokens = [secrets.token_hex(8) for _ in range(max(0, min(n, free)))]
            if not tokens:
                return []
            SendSlot.objects.bulk_create(
                [SendSlot(provider_id=provider_id, token=t, expires=now + ttl) for t in tokens]
            )
            interval = 1 / (rate * effective_factor(row.factor, row.factor_at, now))
            start = max(now, row.tat)
            waits = [start + i * interval - now for i in range(len(tokens))]
            row.tat = start + len(tokens) * interval
            row.save(update_fields=["tat"])
            return list(zip(tokens, waits, strict=True))

    def release(self, provider_id: int, tokens: list[str]) -> None:
        from campaigns.models import SendSlot

        if tokens:
            SendSlot.objects.filter(token__in=tokens).delete()

    def reserve(self, provider_id: int, rate: float) -> float:
        with transaction.atomic():
            row = self._locked(provider_id)
            now = time.time()
            start = max(now, row.tat)
            row.tat = start + 1 / (rate * effective_factor(row.factor, row.factor_at, now))
            row.save(update_fields=["tat"])
            return start - now

    def slow_down(self, provider_id: int) -> float:
        with transaction.atomic():
            row = self._locked(provider_id)
            now = time.time()
            factor = effective_factor(row.factor, row.factor_at, now)
            if now - row.factor_at >= SLOWDOWN_GAP:
                row.factor, row.factor_at = max(MIN_FACTOR, factor / 2), now
                row.save(update_fields=["factor", "factor_at"])
                factor = row.factor
            return factor

    def factor(self, provider_id: int) -> float:
        from campaigns.models import ProviderThrottle

        row = ProviderThrottle.objects.filter(provider_id=provider_id).first()
        return effective_factor(row.factor, row.factor_at, time.time()) if row else 1.0

    def pause(self, provider_id: int, seconds: float) -> None:
        from campaigns.models import ProviderThrottle

        ProviderThrottle.objects.get_or_create(provider_id=provider_id)
        ProviderThrottle.objects.filter(provider_id=provider_id).update(paused_until=time.time() + seconds)

    def paused_for(self, provider_id: int) -> float:
        from campaigns.models import ProviderThrottle

        row = ProviderThrottle.objects.filter(provider_id=provider_id).first()
        return max(0.0, row.paused_until - time.time()) if row else 0.0

    def reset(self, provider_id: int) -> None:
        from campaigns.models import ProviderThrottle, SendSlot

        ProviderThrottle.objects.filter(provider_id=provider_id).delete()
        SendSlot.objects.filter(provider_id=provider_id).delete()

    def in_flight(self, provider_id: int) -> int:
        from campaigns.models import SendSlot

        return SendSlot.objects.filter(provider_id=provider_id, expires__gte=time.time()).count()


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
