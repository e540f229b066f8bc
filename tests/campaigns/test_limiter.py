"""Per-provider limits shared by all processes: concurrency slots, smooth rate, 429 slow-down."""

from __future__ import annotations

import time

import pytest

from campaigns.engine import limiter as limiter_mod
from campaigns.engine.limiter import DatabaseLimiter, RedisLimiter, effective_factor

REDIS_URL = "redis://127.0.0.1:6379/4"


def _redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
        return True
    except Exception:
        return False


@pytest.fixture(params=["database", "redis"])
def limiter(request, provider):
    if request.param == "redis":
        if not _redis_available():
            pytest.skip("Redis not reachable at 127.0.0.1:6379")
        lim = RedisLimiter(REDIS_URL)
        lim.prefix = f"rcs:test:{time.time_ns()}:"
    else:
        lim = DatabaseLimiter()
    yield lim
    lim.reset(provider.pk)


def booked(limiter, provider, rate: float, n: int) -> list[tuple[float, float]]:
    """(earliest, latest) absolute send time booked by each of n reservations.

    The limiter computes "now" somewhere inside the call, so the booked time is known up to the
    call's duration; the tests allow exactly that uncertainty.
    """
    spans = []
    for _ in range(n):
        before = time.time()
        wait = limiter.reserve(provider.pk, rate)
        spans.append((before + wait, time.time() + wait))
    return spans


def gap_ok(a: tuple[float, float], b: tuple[float, float], expected: float) -> bool:
    return b[0] - a[1] - 0.001 <= expected <= b[1] - a[0] + 0.001


@pytest.mark.django_db(transaction=True)
def test_concurrency_slots_are_bounded_and_released(limiter, provider):
    tokens = [limiter.try_acquire(provider.pk, 3, 30) for _ in range(4)]
    assert all(tokens[:3]) and tokens[3] is None
    assert limiter.in_flight(provider.pk) == 3
    limiter.release(provider.pk, tokens[:1])
    assert limiter.try_acquire(provider.pk, 3, 30) is not None


@pytest.mark.django_db(transaction=True)
def test_slots_of_a_dead_worker_expire(limiter, provider):
    assert limiter.try_acquire(provider.pk, 1, 0.2) is not None
    assert limiter.try_acquire(provider.pk, 1, 0.2) is None
    time.sleep(0.3)
    assert limiter.try_acquire(provider.pk, 1, 0.2) is not None


@pytest.mark.django_db(transaction=True)
def test_rate_reservations_are_evenly_spaced(limiter, provider):
    spans = booked(limiter, provider, 50, 10)
    # 50/s: the booked send times are 20 ms apart, however long the booking calls took.
    assert all(gap_ok(a, b, 0.02) for a, b in zip(spans, spans[1:], strict=False)), spans


@pytest.mark.django_db(transaction=True)
def test_take_books_a_batch_of_slots_and_evenly_spaced_send_times(limiter, provider):
    before = time.time()
    taken = limiter.take(provider.pk, limit=5, ttl=30, rate=100, n=3)
    assert len(taken) == 3 and len({t for t, _ in taken}) == 3
    waits = [w for _, w in taken]
    assert waits[0] <= 0.01 + (time.time() - before)
    assert waits[1] - waits[0] == pytest.approx(0.01, abs=1e-6)
    assert waits[2] - waits[1] == pytest.approx(0.01, abs=1e-6)
    # Only 2 of the 5 slots are left; the next booking continues the same schedule.
    more = limiter.take(provider.pk, limit=5, ttl=30, rate=100, n=4)
    assert len(more) == 2 and limiter.in_flight(provider.pk) == 5
    assert limiter.take(provider.pk, limit=5, ttl=30, rate=100, n=1) == []
    assert more[0][1] >= waits[2] + 0.01 - (time.time() - before) - 0.001
    limiter.release(provider.pk, [t for t, _ in taken])
    assert len(limiter.take(provider.pk, limit=5, ttl=30, rate=100, n=9)) == 3


@pytest.mark.django_db(transaction=True)
def test_take_frees_a_stored_batch_and_takes_for_the_next_in_one_call(limiter, provider):
    first = limiter.take(provider.pk, limit=3, ttl=30, rate=1000, n=3)
    assert len(first) == 3 and limiter.take(provider.pk, limit=3, ttl=30, rate=1000, n=1) == []
    again = limiter.take(provider.pk, limit=3, ttl=30, rate=1000, n=5, release=[t for t, _ in first[:2]])
    assert len(again) == 2 and limiter.in_flight(provider.pk) == 3
    # Nothing to start: the slots are still freed.
    assert limiter.take(provider.pk, limit=3, ttl=30, rate=1000, n=0, release=[first[2][0]]) == []
    assert limiter.in_flight(provider.pk) == 2


@pytest.mark.django_db(transaction=True)
def test_429_halves_the_rate_once_per_burst_and_it_recovers(limiter, provider, monkeypatch):
    assert limiter.factor(provider.pk) == 1
    assert limiter.slow_down(provider.pk) == pytest.approx(0.5)
    assert limiter.slow_down(provider.pk) == pytest.approx(0.5)  # same burst: counted once
    spans = booked(limiter, provider, 100, 3)
    assert gap_ok(spans[1], spans[2], 0.02)  # 50/s now


def test_effective_factor_recovers_step_by_step():
    assert effective_factor(0.25, 100.0, 100.0) == 0.25
    assert effective_factor(0.25, 100.0, 100.0 + limiter_mod.RECOVERY_STEP) == pytest.approx(0.3125)
    assert effective_factor(0.25, 100.0, 100.0 + 10 * limiter_mod.RECOVERY_STEP) == 1.0


@pytest.mark.django_db(transaction=True)
def test_pause(limiter, provider):
    assert limiter.paused_for(provider.pk) == 0
    limiter.pause(provider.pk, 5)
    assert 4 < limiter.paused_for(provider.pk) <= 5
