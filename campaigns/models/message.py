from __future__ import annotations

from django.db import models

from providers.models import Provider

from .audience import Contact
from .campaign import Campaign


class MessageStatus(models.TextChoices):
    """Overall state of one message. Per-channel progress is in rcs_status / sms_status."""

    QUEUED = "queued", "Queued"  # waiting to be sent, or waiting for a retry (next_attempt_at)
    SENDING = "sending", "Sending"  # claimed by a worker until lease_until
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    # In the campaign's holdout group (campaigns.experiments): never sent, counted for lift.
    HOLDOUT = "holdout", "Holdout (not sent)"
    # Send rules (campaigns.sendrules): outside the contact's send window, released when it opens.
    WAITING = "waiting", "Waiting for window"
    SKIPPED = "skipped", "Skipped"  # never sent: error_code names why (frequency_cap, opted_out)
    EXPIRED = "expired", "Expired"  # never sent: the campaign's "do not send after" passed


class Message(models.Model):
    # Every index below is written on each status change (a claim, a result: non-HOT updates, so
    # each index gets a new entry), which makes the index count part of every send's cost. Hence
    # no separate indexes where a composite one's first column serves (campaign, provider), and
    # the unique msg_id and the status index are declared in Meta: a field's own `unique` or
    # `db_index` adds a second, `varchar_pattern_ops` index on PostgreSQL, for LIKE queries
    # nothing here makes.
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="messages", db_index=False)
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to = models.CharField(max_length=20)
    # Ours, fixed at creation, identical on every retry (vendors deduplicate on it). <= 60 chars.
    msg_id = models.CharField(max_length=60)  # unique: see Meta
    # Rendered neutral content for messages not rendered from a campaign (transactional, inbox).
    content = models.JSONField(null=True, blank=True)
    # Whether an SMS fallback was requested: decides whether "RCS failed" is final.
    sms_fallback = models.BooleanField(default=False)

    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    rcs_status = models.CharField(max_length=10, blank=True)
    sms_status = models.CharField(max_length=10, blank=True)
    delivered_via = models.CharField(max_length=3, blank=True)  # RCS | SMS
    error_code = models.CharField(max_length=20, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    vendor_id = models.CharField(max_length=120, blank=True)
    # A retry or resend: the first message of the chain (campaigns.state, "Retry and resend").
    repeat_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="repeats", db_index=False
    )
    # A/B campaigns: the variant label ("A".."D") or "holdout" (campaigns.experiments); "" otherwise.
    variant = models.CharField(max_length=7, blank=True, default="", db_default="")
    # Transactional sends: the client's Idempotency-Key (one message per provider and key).
    idempotency_key = models.CharField(max_length=120, blank=True)

    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    clicked_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["provider", "status", "next_attempt_at"], name="messages_claim"),
            models.Index(fields=["campaign", "status"], name="messages_campaign_status"),
            models.Index(fields=["to"], name="messages_to"),
            models.Index(fields=["status"], name="messages_status"),
            # Partial: the rows that are no repeat (nearly all) never write an entry into it.
            models.Index(
                fields=["repeat_of"], condition=models.Q(repeat_of__isnull=False), name="messages_repeat_of"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["msg_id"], name="messages_unique_msg_id"),
            models.UniqueConstraint(
                fields=["provider", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="messages_unique_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return self.msg_id

    @property
    def summary(self) -> str:
        """The first text of the content as sent (text, or a card's title or description)."""
        from templates_app.rendering import text_fields

        content = self.content or {}
        return next((value for _, kind, value in text_fields(content) if kind == "text" and value), "")


class FrequencyRecord(models.Model):
    """One marketing message counted against its number's frequency cap (campaigns.sendrules).

    Written when the claim lets a capped campaign's message go (check and record under a lock on
    the number), one per message (a message claimed again is not counted twice)."""

    to = models.CharField(max_length=20)
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["to", "at"], name="frequency_to_at")]

    def __str__(self) -> str:
        return f"{self.to} at {self.at:%Y-%m-%d %H:%M}"
