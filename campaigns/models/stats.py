"""Hourly aggregates for the stats pages, kept incrementally by `campaigns.stats.record`.

Counting a 1,000,000-message campaign on every page view is too slow; these rows are what the
funnel chart and the provider stats read. `manage.py rebuild_stats` recomputes them from messages.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from providers.models import Provider

from .campaign import Campaign

# Funnel names (campaigns.state.FUNNEL) kept per hour; each is counted at its message timestamp.
BUCKET_FIELDS = ("sent", "delivered_rcs", "delivered_sms", "read", "clicked", "replied", "failed")


class StatBucket(models.Model):
    """Funnel counts of one provider (and campaign; null for transactional sends) in one UTC hour."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    sent = models.IntegerField(default=0)
    delivered_rcs = models.IntegerField(default=0)
    delivered_sms = models.IntegerField(default=0)
    read = models.IntegerField(default=0)
    clicked = models.IntegerField(default=0)
    replied = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)

    class Meta:
        ordering = ["hour"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "campaign", "hour"],
                condition=Q(campaign__isnull=False),
                name="statbucket_unique_campaign_hour",
            ),
            models.UniqueConstraint(
                fields=["provider", "hour"],
                condition=Q(campaign__isnull=True),
                name="statbucket_unique_direct_hour",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "hour"], name="statbucket_campaign"),
            models.Index(fields=["provider", "hour"], name="statbucket_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}/{self.campaign_id} {self.hour:%Y-%m-%d %H}:00"


class ErrorBucket(models.Model):
    """Failed messages by error code of one provider (and campaign) in one UTC hour."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    code = models.CharField(max_length=20)
    count = models.IntegerField(default=0)

    class Meta:
        ordering = ["hour", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "campaign", "hour", "code"],
                condition=Q(campaign__isnull=False),
                name="errorbucket_unique_campaign_hour",
            ),
            models.UniqueConstraint(
                fields=["provider", "hour", "code"],
                condition=Q(campaign__isnull=True),
                name="errorbucket_unique_direct_hour",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "hour"], name="errorbucket_campaign"),
            models.Index(fields=["provider", "hour"], name="errorbucket_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.code} x{self.count}"
