"""The database limiter, the embedded default (no Redis): the same decisions as the Redis one.

Contract: the `Limiter` interface, each decision in one short transaction under a row lock on the
provider's `ProviderThrottle` (time kept in integer microseconds: `tat_us`, `factor_at_us`,
`paused_until_us`), the in-flight slots as `SendSlot` rows with an expiry. `take` is one
transaction per batch. `clock` (tests) replaces the wall clock.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

from django.db import transaction

from .base import MIN_FACTOR, SLOWDOWN_GAP, US, Limiter, effective_factor, interval_us, now_us


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
