"""The Redis limiter (settings.REDIS_URL set): each decision is one Lua script against the Redis clock.

Contract: the `Limiter` interface, shared by every worker process on every machine that uses the
same Redis. Concurrency is a sorted set of slot tokens scored by their expiry (a dead worker's
slots free themselves); the rate is GCRA on a hash holding the theoretical arrival time in integer
microseconds (`tat_us`), never a Lua float turned into text. `take` is one round trip per batch.
`clock` (tests) hands every script "now" instead of the Redis clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from .base import MIN_FACTOR, RECOVERY, RECOVERY_STEP, SLOWDOWN_GAP, US, Limiter, now_us

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
