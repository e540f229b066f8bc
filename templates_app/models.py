"""Message templates: neutral content (providers.content) with `{{n}}` placeholders, per provider."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

from providers.models import Provider

name_validator = RegexValidator(
    r"^[A-Za-z0-9_]{1,20}$", "Use at most 20 letters, digits or underscores (WIRE.md 5)."
)


class LiveTemplateManager(models.Manager):
    """Templates that are not deleted. Deleted templates stay (soft delete) while campaigns refer to them."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class MessageTemplate(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class Category(models.TextChoices):
        # Send windows, quiet hours, frequency caps and opt-outs apply to marketing (campaigns.sendrules).
        MARKETING = "marketing", "Marketing"
        TRANSACTIONAL = "transactional", "Transactional"

    class Format(models.TextChoices):
        TEXT = "TEXT", "Text"
        RICH_CARD = "RICH_CARD", "Rich card"
        CAROUSEL = "CAROUSEL", "Carousel"
        MEDIA = "MEDIA", "Media"

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=20, validators=[name_validator])
    language = models.CharField(max_length=10, default="en")
    format = models.CharField(max_length=12, choices=Format.choices, default=Format.TEXT)
    category = models.CharField(max_length=13, choices=Category.choices, default=Category.MARKETING)
    # Neutral content (see providers.content) with {{n}} placeholders.
    content = models.JSONField(default=dict)
    # Sample value per placeholder, in order: sample_values[0] is {{1}}.
    sample_values = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    rejection_reason = models.CharField(max_length=500, blank=True)
    status_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set when a template used by campaigns is deleted: it is hidden everywhere but campaigns keep it.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = LiveTemplateManager()
    all_objects = models.Manager()  # noqa: DJ012 - a second manager, not a field

    class Meta:
        ordering = ["provider__nickname", "name", "language"]
        base_manager_name = "all_objects"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "name", "language"],
                condition=models.Q(deleted_at__isnull=True),
                name="templates_unique_live_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    def get_absolute_url(self) -> str:
        return reverse("templates_app:edit", args=[self.pk])


class TemplateTestSend(models.Model):
    """One "send test" of a template to a phone number, with what was sent and what the vendor answered."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        RETRY = "retry", "Not sent (transient error)"

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="test_sends")
    to = models.CharField(max_length=20)
    values = models.JSONField(default=list, blank=True)
    msg_id = models.CharField(max_length=60, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    request = models.JSONField(null=True, blank=True)  # secrets masked
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"test of {self.template} to {self.to}"
