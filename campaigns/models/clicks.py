from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils import timezone

from .campaign import Campaign
from .message import Message


class ShortLink(models.Model):
    """Our click-tracking short link: one per message (recipient) and URL.

    `click_count` counts every human click, `first_clicked_at` marks the unique click;
    `bot_count` counts link-preview fetches (redirected, never counted as clicks).
    """

    code = models.CharField(max_length=16, unique=True)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="short_links")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="short_links"
    )
    url = models.TextField()
    url_hash = models.CharField(max_length=64)  # sha256 of url: the (message, url) key fits an index
    created_at = models.DateTimeField(default=timezone.now)
    click_count = models.PositiveIntegerField(default=0)
    bot_count = models.PositiveIntegerField(default=0)
    first_clicked_at = models.DateTimeField(null=True, blank=True)
    last_clicked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "url_hash"], name="shortlinks_one_per_message_url")
        ]
        indexes = [models.Index(fields=["campaign", "url_hash"], name="shortlinks_campaign_url")]

    def __str__(self) -> str:
        return f"{self.code} -> {self.url}"

    def get_absolute_url(self) -> str:
        return reverse("short_link", args=[self.code])
