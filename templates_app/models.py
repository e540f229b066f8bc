"""Message templates: neutral content (providers.content) with `{{n}}` placeholders, per provider."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

from providers.models import Provider

name_validator = RegexValidator(
    r"^[A-Za-z0-9_]{1,20}$", "Use at most 20 letters, digits or underscores (WIRE.md 5)."
)


class MessageTemplate(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class Format(models.TextChoices):
        TEXT = "TEXT", "Text"
        RICH_CARD = "RICH_CARD", "Rich card"
        CAROUSEL = "CAROUSEL", "Carousel"
        MEDIA = "MEDIA", "Media"

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=20, validators=[name_validator])
    language = models.CharField(max_length=10, default="en")
    format = models.CharField(max_length=12, choices=Format.choices, default=Format.TEXT)
    # Neutral content (see providers.content) with {{n}} placeholders.
    content = models.JSONField(default=dict)
    # Sample value per placeholder, in order: sample_values[0] is {{1}}.
    sample_values = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    rejection_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider__nickname", "name", "language"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name", "language"], name="templates_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    def get_absolute_url(self) -> str:
        return reverse("templates_app:edit", args=[self.pk])
