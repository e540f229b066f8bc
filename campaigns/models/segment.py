from __future__ import annotations

from django.db import models
from django.urls import reverse

from .audience import Audience


class Segment(models.Model):
    """A saved filter over one audience's contacts. `rules` and `match` are read by
    `campaigns.segments` (the one owner of what a rule means and how it is evaluated)."""

    class Match(models.TextChoices):
        ALL = "all", "All rules (and)"
        ANY = "any", "Any rule (or)"

    name = models.CharField(max_length=120)
    audience = models.ForeignKey(Audience, on_delete=models.CASCADE, related_name="segments")
    description = models.CharField(max_length=300, blank=True)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    # A list of rules, each a dict with a "kind" (see campaigns.segments.KINDS).
    rules = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["audience", "name"], name="segments_unique_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:segment_edit", args=[self.pk])
