from __future__ import annotations

from django.db import models
from django.db.models import Q

from .audience import Contact
from .campaign import Campaign
from .message import Message


class Conversion(models.Model):
    """A goal reached by a contact (a purchase, a sign-up), attributed by `campaigns.conversions` to
    the last campaign message the number received or clicked within the attribution window."""

    class Source(models.TextChoices):
        API = "api", "API"
        POSTBACK = "postback", "Suggestion postback"
        LINK = "link", "Tracked link landing"

    event = models.CharField(max_length=100)
    value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    occurred_at = models.DateTimeField()
    phone = models.CharField(max_length=20)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The attribution: the message (and so its campaign) the conversion is credited to; none outside
    # the window.
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversions"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="conversions"
    )
    # The attributed message's variant ("A".."D", "holdout"; "" for a campaign without variants).
    variant = models.CharField(max_length=7, blank=True, default="", db_default="")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    idempotency_key = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["campaign", "occurred_at"], name="conversions_campaign")]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], condition=~Q(idempotency_key=""), name="conversions_unique_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.value} ({self.phone})"
