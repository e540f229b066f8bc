from __future__ import annotations

from django.db import models

from providers.models import Provider


class ProviderThrottle(models.Model):
    """Shared send-rate state of one provider, used when no Redis is configured (campaigns.engine.limiter).

    Times are integer microseconds since the epoch (a float of epoch seconds rounds every step of the
    arrival time, which drifts the rate), updated under a row lock.
    """

    provider = models.OneToOneField(Provider, on_delete=models.CASCADE, primary_key=True, related_name="+")
    # Theoretical arrival time of the next request (GCRA): requests are spaced 1/rate apart.
    tat_us = models.BigIntegerField(default=0)
    # Fraction of the provider's max rate currently allowed (a 429 halves it; it recovers step by step).
    factor = models.FloatField(default=1)
    factor_at_us = models.BigIntegerField(default=0)
    # Dispatch is paused until then (provider unhealthy: authentication failing).
    paused_until_us = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"throttle of provider {self.provider_id}"


class SendSlot(models.Model):
    """One request in flight to a provider (database limiter). Expired slots belong to dead workers."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=32, unique=True)
    expires = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["provider", "expires"], name="sendslots_provider")]

    def __str__(self) -> str:
        return self.token
