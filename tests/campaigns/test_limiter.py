"""Per-provider limits shared by all processes: concurrency slots, smooth rate, 429 slow-down."""

from __future__ import annotations

import bisect
import os
import random
import time

import pytest

from campaigns.engine import limiter as limiter_mod
from campaigns.engine.limiter import DatabaseLimiter, RedisLimiter, effective_factor

REDIS_URL = os.environ.get("RCS_TEST_REDIS_URL", "redis://127.0.0.1:6379/4")


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


# -- exactness, with a controlled clock -------------------------------------------------------------

RATES = [50, 300, 1200, 4600]


class Clock:
    """Integer microseconds since the epoch, moved by the test only."""

    def __init__(self):
        self.now = 1_764_000_000_000_000 + random.randrange(1_000_000)

    def __call__(self) -> int:
        return self.now


@pytest.fixture(params=["database", "redis"])
def clocked(request, provider):
    clock = Clock()
    if request.param == "redis":
        if not _redis_available():
            pytest.skip("Redis not reachable at 127.0.0.1:6379")
        lim = RedisLimiter(REDIS_URL, clock=clock)
        lim.prefix = f"rcs:test:{time.time_ns()}:"
    else:
        lim = DatabaseLimiter(clock=clock)
    yield lim, clock
    lim.reset(provider.pk)


def max_window(times: list[int]) -> int:
    """The most send times in any closed 1-second window (sliding, starting at each send)."""
    times = sorted(times)
    return max(bisect.bisect_right(times, t + 1_000_000) - i for i, t in enumerate(times))


def drive(
    lim, clock, provider, rate: int, *, seconds: float, slowdowns=(), idle: bool = True, rng=None
) -> list[int]:
    """A busy sender against the limiter: batches like the dispatcher's and single bookings, the
    clock moving to around each batch's booked times (sometimes late, sometimes idle for a while),
    and 429 bursts at the given offsets (seconds from the start). Returns every booked send time."""
    rng = rng or random.Random(rate)
    start, end = clock.now, clock.now + int(seconds * 1_000_000)
    pending = sorted(int(s * 1_000_000) + start for s in slowdowns)
    booked: list[int] = []
    held: list[str] = []
    while clock.now < end:
        while pending and clock.now >= pending[0]:
            pending.pop(0)
            for _ in range(rng.randint(1, 5)):  # a burst of 429s counts once
                lim.slow_down(provider.pk)
        if rng.random() < 0.2:
            waits = [lim.reserve(provider.pk, rate)]
        else:
            n = rng.randint(1, max(1, rate // 5))
            taken = lim.take(provider.pk, limit=100_000, ttl=30, rate=rate, n=n, release=held)
            held = [t for t, _ in taken]
            waits = [w for _, w in taken]
        at = [clock.now + round(w * 1_000_000) for w in waits]
        booked += at
        pick = rng.random()
        if idle and pick < 0.03:
            clock.now = at[-1] + rng.randint(0, 1_500_000)  # idle for a while
        else:
            clock.now = max(clock.now, at[len(at) // 2] + rng.randint(0, 3000)) + 1
    return booked


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rate", RATES)
def test_no_window_above_rate_plus_one_and_the_long_run_rate_is_exact(clocked, provider, rate):
    lim, clock = clocked
    booked = drive(lim, clock, provider, rate, seconds=3)
    assert len(booked) > rate
    assert max_window(booked) <= rate + 1
    # Saturated from the first booking on: n bookings span at least (n - 1) intervals of 1/rate.
    burst = [lim.reserve(provider.pk, rate) for _ in range(2 * rate)]
    span_us = round((burst[-1] - burst[0]) * 1_000_000)
    assert (len(burst) - 1) * 1_000_000 <= rate * span_us, f"{(len(burst) - 1) / span_us * 1e6:.2f}/s"
    # ... and not much more: the interval is rounded up to the microsecond, no further.
    assert span_us <= (len(burst) - 1) * (1_000_000 // rate + 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rate", RATES)
def test_no_window_above_rate_plus_one_across_429_slowdowns_and_recovery(clocked, provider, rate):
    lim, clock = clocked
    booked = drive(lim, clock, provider, rate, seconds=6, slowdowns=(1, 1.4, 3, 3.2, 5.5))
    assert lim.factor(provider.pk) < 0.5
    # Recovering step by step while sending (a 1.25 x step every 2 s), then at the full rate.
    booked += drive(lim, clock, provider, rate, seconds=20)
    assert lim.factor(provider.pk) == 1
    full = drive(lim, clock, provider, rate, seconds=2, idle=False)
    booked += full
    assert max_window(booked) <= rate + 1
    assert max_window(full) >= 0.99 * rate  # recovered: the full rate again
    slowed = [t for t in booked if booked[0] + 1_500_000 <= t < booked[0] + 2_500_000]
    assert len(slowed) <= rate / 2 + 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rate", RATES)
def test_no_window_above_rate_plus_one_across_token_refreshes(clocked, provider, rate):
    """How the dispatcher meets an expired token: the sends in flight get 401 and each resend books a
    time of its own (send_loop.Sender.send); the token fetch (150 ms here) holds every send that waits
    for it, and when it ends they all ask the limiter at once. Every request the vendor would see,
    refused ones and resends included, is a booked time, so the windows hold rate + 1 across it."""
    lim, clock = clocked
    rng = random.Random(rate)
    booked = drive(lim, clock, provider, rate, seconds=1, idle=False, rng=rng)
    for _ in range(3):  # three token expiries
        refused = rng.randint(1, max(1, rate // 10))  # sends that met the 401
        clock.now += 150_000  # the fetch: nobody sends meanwhile, the sends queue up behind it
        waiting = refused + rng.randint(1, max(1, rate // 5))
        taken = lim.take(provider.pk, limit=100_000, ttl=30, rate=rate, n=waiting, release=[])
        at = [clock.now + round(w * 1_000_000) for _, w in taken]
        booked += at
        lim.release(provider.pk, [t for t, _ in taken])
        clock.now = at[-1] + 1
        booked += drive(lim, clock, provider, rate, seconds=0.7, idle=False, rng=rng)
    assert max_window(booked) <= rate + 1
    assert max_window(booked) >= 0.9 * rate  # sending at the full rate around the refreshes


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("rate", [300, 4600])
def test_bookings_on_the_real_clock_keep_the_configured_rate(limiter, provider, rate):
    """Measured with bookings only (the Redis clock is its own): 1,000 bookings in a row book
    999 intervals of at least 1/rate (the epoch float of old gave 303/s at 300 and 5,000 at 4,600)."""
    spans = booked(limiter, provider, rate, 1000)  # single bookings: known up to each call's duration
    latest_span = spans[-1][1] - spans[0][0]
    assert latest_span >= 999 / rate, f"{999 / latest_span:.1f}/s"
    limiter.reset(provider.pk)
    taken = limiter.take(provider.pk, limit=2000, ttl=30, rate=rate, n=1000)  # one call, one "now"
    span = taken[-1][1] - taken[0][1]
    assert 999 / rate - 1e-9 <= span <= 999 * (1 / rate + 1e-6) + 1e-9, f"{999 / span:.2f}/s"
