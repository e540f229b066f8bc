"""One source for every figure: the provider detail page and the provider stats page show the same funnel
from messages and their stat buckets, never from raw callback events (an RCS failure followed by SMS
delivery is a delivery, not an error; a link tapped twice is one click)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.events import apply_events_now
from campaigns.models import Campaign
from providers.callbacks import dedupe_key
from providers.models import ProviderEvent
from tests.api.factories import make_campaign, make_message

pytestmark = pytest.mark.django_db
FIGURES = ("f-sent", "f-delivered-rcs", "f-delivered-sms", "f-read", "f-clicked", "f-failed", "r-delivery")


def _events(message, *steps):
    events = []
    at = timezone.now() - timedelta(hours=1)
    for i, (channel, status, code) in enumerate(steps):
        fields = {"msg_id": message.msg_id, "channel": channel, "status": status, "n": i, "code": code}
        events.append(
            ProviderEvent.objects.create(
                provider=message.provider,
                msg_id=message.msg_id,
                channel=channel,
                status=status,
                occurred_at=at + timedelta(seconds=i),
                data={"error_code": code} if code else {},
                dedupe_key=dedupe_key(message.provider_id, fields),
            )
        )
    return events


def _figures(html: str) -> dict[str, str]:
    return {name: re.search(rf'id="{name}">([^<]*)<', html).group(1) for name in FIGURES}


def test_provider_detail_and_stats_pages_show_the_same_figures(marketer_client):
    campaign = make_campaign(total_count=3, status=Campaign.Status.SENDING)
    provider = campaign.provider
    a, b, c = (make_message(provider, campaign, sms_fallback=True) for _ in range(3))
    events = _events(a, ("RCS", "sent", ""), ("RCS", "delivered", ""), ("RCS", "clicked", ""))
    events += _events(a, ("RCS", "clicked", ""), ("RCS", "clicked", ""))  # the same link tapped again
    events += _events(b, ("RCS", "sent", ""), ("RCS", "failed", "404"), ("SMS", "delivered", ""))
    events += _events(c, ("RCS", "sent", ""), ("RCS", "delivered", ""))
    apply_events_now(events)

    detail = _figures(marketer_client.get(f"/providers/{provider.pk}/").content.decode())
    stats = _figures(marketer_client.get(f"/stats/providers/{provider.pk}/?window=24h").content.decode())
    assert detail == stats
    assert detail["f-sent"] == "3" and detail["f-delivered-rcs"] == "2" and detail["f-delivered-sms"] == "1"
    assert detail["f-clicked"] == "1" and detail["f-failed"] == "0" and detail["r-delivery"] == "100.0%"
