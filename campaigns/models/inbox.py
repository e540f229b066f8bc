from __future__ import annotations

from django.db import models
from django.utils import timezone

from providers.models import Provider, ProviderEvent

from .audience import Contact
from .message import Message


class InboxMessage(models.Model):
    """One entry of a conversation with a phone number: a reply or tap received, or an answer sent.

    Inbound entries come from vendor callbacks (`campaigns.events`); `message` is the message they
    answer. Outbound entries are answers typed in the inbox; `message` is the Message that carries
    them (its status is the delivery status shown in the thread).
    """

    class Direction(models.TextChoices):
        INBOUND = "in", "Received"
        OUTBOUND = "out", "Sent"

    class Action(models.TextChoices):
        NONE = "", "None"
        OPT_OUT = "opt_out", "Unsubscribed"
        OPT_IN = "opt_in", "Subscribed again"

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="inbox_messages")
    phone = models.CharField(max_length=20, help_text="The other party, E.164.")
    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    text = models.TextField(blank=True)
    postback_data = models.CharField(max_length=2048, blank=True)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbox_messages"
    )
    # The vendor event an inbound entry was made from: applying the same event twice adds nothing.
    event = models.OneToOneField(
        ProviderEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbox_message"
    )
    action = models.CharField(max_length=8, choices=Action.choices, blank=True, default="")
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["provider", "phone", "created_at"], name="inbox_thread"),
            models.Index(fields=["-created_at"], name="inbox_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.phone}: {self.text[:40]}"
