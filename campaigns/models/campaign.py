from __future__ import annotations

from django.db import models
from django.urls import reverse

from providers.models import Provider
from templates_app.models import MessageTemplate

from .audience import Audience


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class ClickTracking(models.TextChoices):
        OFF = "off", "Off"
        OURS = "ours", "rcsconnect short links"
        PROVIDER = "provider", "The provider's click tracking"

    name = models.CharField(max_length=120)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="campaigns")
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="campaigns")
    audience = models.ForeignKey(Audience, on_delete=models.PROTECT, related_name="campaigns")
    # One entry per placeholder, in order: {"source": "attribute"|"literal", "value": str}.
    placeholder_mapping = models.JSONField(default=list, blank=True)
    sms_fallback_text = models.TextField("SMS fallback text", blank=True)
    dlt_template_id = models.CharField("DLT template ID", max_length=40, blank=True)
    click_tracking = models.CharField(max_length=10, choices=ClickTracking.choices, default=ClickTracking.OFF)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    schedule_timezone = models.CharField(max_length=64, default="UTC")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)

    # Progress counters, kept incrementally by the engine and the callback handler (no table scans).
    total_count = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
    delivered_rcs_count = models.PositiveIntegerField(default=0)
    delivered_sms_count = models.PositiveIntegerField(default=0)
    read_count = models.PositiveIntegerField(default=0)
    clicked_count = models.PositiveIntegerField(default=0)
    replied_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)

    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:detail", args=[self.pk])
