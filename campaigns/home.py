"""The home page's read side: the setup checklist of a new install and what is sending now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.urls import reverse
from django.utils import timezone

from providers.models import Provider, SendTest
from templates_app.models import MessageTemplate

from .models import Campaign, Contact


@dataclass(frozen=True)
class SetupStep:
    label: str
    done: bool
    url: str
    hint: str


def setup_checklist() -> list[SetupStep]:
    """provider -> Send Test -> template -> audience -> campaign, each ticked once it has been done."""
    return [
        SetupStep(
            "Connect a provider",
            Provider.objects.filter(archived_at__isnull=True).exists(),
            reverse("providers:list"),
            "Your vendor's endpoint and credentials (the demo ones point at the local simulator).",
        ),
        SetupStep(
            "Send a test message",
            SendTest.objects.filter(state=SendTest.State.DONE).exists(),
            reverse("providers:list"),
            "Send Test on the provider's page: one message to your own phone.",
        ),
        SetupStep(
            "Create a template",
            MessageTemplate.objects.exists(),
            reverse("templates_app:list"),
            "Text, rich card or carousel, with {{1}} placeholders.",
        ),
        SetupStep(
            "Import an audience",
            Contact.objects.exists(),
            reverse("campaigns:audience_list"),
            "A CSV of phone numbers and attributes.",
        ),
        SetupStep(
            "Launch a campaign",
            Campaign.objects.exclude(status=Campaign.Status.DRAFT).exists(),
            reverse("campaigns:list"),
            "Provider, template and audience together; launch now or schedule.",
        ),
    ]


def sending_campaigns(limit: int = 10) -> list[Campaign]:
    return list(
        Campaign.objects.filter(status=Campaign.Status.SENDING)
        .select_related("provider")
        .order_by("-id")[:limit]
    )


def figure_windows(now: datetime | None = None) -> dict[str, datetime]:
    """The home page's windows: since midnight in the active timezone (the user's, activated by
    `UserTimezoneMiddleware`), and the last 7 days."""
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"today": midnight, "week": now - timedelta(days=7)}
