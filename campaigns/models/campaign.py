from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils import timezone

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

    class WinnerMetric(models.TextChoices):
        CTR = "ctr", "Click-through rate"
        REPLY_RATE = "reply_rate", "Reply rate"
        CONVERSION_RATE = "conversion_rate", "Conversion rate"

    name = models.CharField(max_length=120)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="campaigns")
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="campaigns")
    audience = models.ForeignKey(Audience, on_delete=models.PROTECT, related_name="campaigns")
    # Only this segment of the audience (None: every subscribed contact of the audience).
    segment = models.ForeignKey(
        "campaigns.Segment", null=True, blank=True, on_delete=models.PROTECT, related_name="campaigns"
    )
    # One entry per placeholder, in order: {"source": "attribute"|"literal", "value": str}.
    placeholder_mapping = models.JSONField(default=list, blank=True)
    sms_fallback_text = models.TextField("SMS fallback text", blank=True)
    dlt_template_id = models.CharField("DLT template ID", max_length=40, blank=True)
    click_tracking = models.CharField(max_length=10, choices=ClickTracking.choices, default=ClickTracking.OFF)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    schedule_timezone = models.CharField(max_length=64, default="UTC")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)

    class Rules(models.TextChoices):
        CATEGORY = "category", "As the template's category says (marketing: on)"
        ON = "on", "On"
        OFF = "off", "Off"

    # Send rules (campaigns.sendrules): windows, quiet hours and caps; "category" applies them to a
    # marketing template only.
    send_rules = models.CharField(max_length=10, choices=Rules.choices, default=Rules.CATEGORY)
    # Send window, in each contact's local time (or in `window_timezone` when set); None: any time.
    window_start = models.TimeField(null=True, blank=True)
    window_end = models.TimeField(null=True, blank=True)
    window_timezone = models.CharField(max_length=64, blank=True)
    # Frequency cap override: None follows the setting (RCS_FREQUENCY_CAP), 0 means no cap.
    frequency_cap = models.PositiveIntegerField(null=True, blank=True)
    frequency_period_hours = models.PositiveIntegerField(null=True, blank=True)
    # Expiry: "do not send after" or a time to live from launch; `expires_at` is fixed at the start.
    send_until = models.DateTimeField(null=True, blank=True)
    ttl_hours = models.PositiveIntegerField("time to live (hours)", null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    # Progress counters, kept incrementally by the engine and the callback handler (no table scans).
    total_count = models.PositiveIntegerField(default=0)
    sent_count = models.PositiveIntegerField(default=0)
    delivered_rcs_count = models.PositiveIntegerField(default=0)
    delivered_sms_count = models.PositiveIntegerField(default=0)
    read_count = models.PositiveIntegerField(default=0)
    clicked_count = models.PositiveIntegerField(default=0)
    replied_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    # Messages the engine is done with (sent, failed at send, or cancelled): drives the progress bar.
    processed_count = models.PositiveIntegerField(default=0)
    cancelled_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)  # frequency cap, opted out
    expired_count = models.PositiveIntegerField(default=0)
    # Prefix of this campaign's msgIds ("<prefix>-<contact id>"), random so ids never repeat across installs.
    msg_prefix = models.CharField(max_length=24, blank=True)

    # Experiments (campaigns.experiments): the holdout group's share of the contacts (percent; they
    # get nothing and are measured for lift) and its size once fanned out (not in total_count).
    holdout_percent = models.PositiveSmallIntegerField(default=0)
    holdout_count = models.PositiveIntegerField(default=0)
    # "Test, then send the winner": 0 = off; else the percent of the sendable contacts the variants
    # go to first; after `winner_after_minutes` the best variant by `winner_metric` goes to the rest.
    test_percent = models.PositiveSmallIntegerField(default=0)
    winner_metric = models.CharField(max_length=16, choices=WinnerMetric.choices, default=WinnerMetric.CTR)
    winner_after_minutes = models.PositiveIntegerField(default=240)
    winner_variant = models.CharField(max_length=1, blank=True)
    winner_picked_at = models.DateTimeField(null=True, blank=True)
    # When the rest's rows (the winner's) were all written: the campaign cannot complete before.
    rest_fanned_out_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # Set when every recipient has its message row (the campaign cannot complete before).
    fanned_out_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:detail", args=[self.pk])

    @property
    def starts_later(self) -> bool:
        """Launching schedules it (its start time is still ahead) rather than sending now."""
        return bool(self.scheduled_at and self.scheduled_at > timezone.now())

    @property
    def is_editable(self) -> bool:
        """Content is locked once sending starts."""
        return self.status in (self.Status.DRAFT, self.Status.SCHEDULED)

    @property
    def uses_sms_fallback(self) -> bool:
        return bool(self.sms_fallback_text.strip()) and self.provider.sms_fallback

    @property
    def percent(self) -> int:
        if not self.total_count:
            return 100 if self.status == self.Status.COMPLETED else 0
        return min(100, int(100 * self.processed_count / self.total_count))

    @property
    def queued_count(self) -> int:
        return max(0, self.total_count - self.processed_count)
