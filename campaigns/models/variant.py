from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from templates_app.models import MessageTemplate

from .campaign import Campaign

LABELS = ("A", "B", "C", "D")  # a campaign has 2-4 variants, labelled in order


class Variant(models.Model):
    """One arm of a campaign's A/B test: its own template and placeholder mapping, and its share
    of the contacts that are sent to (`split`, percent; a campaign's splits add up to 100).
    Assignment to a variant or to the holdout: `campaigns.experiments`."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=1, choices=[(label, label) for label in LABELS])
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="variants")
    # As Campaign.placeholder_mapping: one {"source", "value"} per placeholder of this template.
    placeholder_mapping = models.JSONField(default=list, blank=True)
    split = models.PositiveSmallIntegerField(
        default=50, validators=[MinValueValidator(1), MaxValueValidator(99)], help_text="Percent."
    )

    class Meta:
        ordering = ["campaign", "label"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "label"], name="variants_unique_label"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · variant {self.label}"
