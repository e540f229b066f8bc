"""One source for every figure: the provider detail page and the provider stats page show the same funnel
from messages and their stat buckets, never from raw callback events (an RCS failure followed by SMS
delivery is a delivery, not an error; a link tapped twice is one click)."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

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


def _callback(client, provider, body) -> None:
    url = reverse("callback", args=[provider.callback_token])
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content


def _real_callbacks() -> Campaign:
    """A campaign of four messages whose vendor callbacks (WIRE.md 3a RCS status batch, 3b SMS event
    groups) are posted to the callback view, stored and applied by the applier task (sync_tasks):
    sent 4, delivered 2 by RCS and 1 by SMS after an RCS failure, read 1 (and one clicked), a link
    tapped three times (one click), failed 1, a repeated delivery (deduped)."""
    campaign = make_campaign(total_count=4, status=Campaign.Status.SENDING)
    provider = campaign.provider
    a, b, c, d = (make_message(provider, campaign, sms_fallback=i == 1) for i in range(4))
    t0 = int(time.time()) - 3600
    rcs = [
        *({"msgId": m.msg_id, "channel": "RCS", "status": "sent", "timestamp": t0} for m in (a, b, c, d)),
        {"msgId": a.msg_id, "channel": "RCS", "status": "DELIVERED", "timestamp": t0 + 1},
        *(
            {
                "msgId": a.msg_id,
                "channel": "RCS",
                "status": "clicked",
                "timestamp": t0 + 2 + i,
                "url": "https://shop.example.com/t/1",
            }
            for i in range(3)
        ),
        {
            "msgId": b.msg_id,
            "channel": "RCS",
            "status": "failed",
            "timestamp": t0 + 1,
            "error": {"code": "2003", "title": "User not subscribed"},
        },
        {"msgId": c.msg_id, "channel": "RCS", "status": "delivered", "timestamp": t0 + 1},
        {"msgId": c.msg_id, "channel": "rcs", "status": "read", "timestamp": t0 + 2},
        {
            "msgId": d.msg_id,
            "channel": "RCS",
            "status": "failed",
            "timestamp": t0 + 1,
            "error": {"code": "2002", "title": "Invalid phone number"},
        },
    ]
    _callback(Client(), provider, {"payloadVersion": "0.1", "statuses": rcs})
    _callback(Client(), provider, [{"event": "delivered", "data": [{"ts": t0 + 5, "meta": b.msg_id}]}])
    _callback(Client(), provider, {"payloadVersion": "0.1", "statuses": rcs[4:6]})  # a repeated delivery
    stored = ProviderEvent.objects.filter(provider=provider)
    assert stored.count() == len(rcs) + 1 and not stored.filter(applied=False).exists()  # (repeats deduped)

    return campaign


@pytest.mark.usefixtures("sync_tasks")
def test_real_callbacks_through_the_applier_give_the_same_figures_on_both_pages(marketer_client):
    """The vendor's own callback bodies (WIRE.md 3a RCS status batch, 3b SMS event groups) posted to the
    callback view, stored and applied by the applier task; the two pages then agree, with an RCS failure
    followed by SMS delivery counted as a delivery and a link tapped three times as one click."""
    provider = _real_callbacks().provider
    detail = _figures(marketer_client.get(f"/providers/{provider.pk}/").content.decode())
    stats = _figures(marketer_client.get(f"/stats/providers/{provider.pk}/?window=24h").content.decode())
    assert detail == stats
    assert (detail["f-sent"], detail["f-delivered-rcs"], detail["f-delivered-sms"]) == ("4", "2", "1")
    assert (detail["f-clicked"], detail["f-failed"], detail["r-delivery"]) == ("1", "1", "75.0%")


@pytest.mark.usefixtures("sync_tasks")
def test_the_campaign_page_the_api_and_the_stats_page_show_the_same_campaign_figures(
    marketer_client, marketer
):
    """One owner of a campaign's figures (campaigns.stats): after real callbacks through the applier, the
    campaign page's counters, the API's campaign stats and the campaign stats page agree."""
    campaign = _real_callbacks()
    page = marketer_client.get(f"/campaigns/{campaign.pk}/").content.decode()
    on_page = {
        name: re.search(rf'class="c-{name}">([^<]*)<', page).group(1)
        for name in ("sent", "delivered-rcs", "delivered-sms", "read", "clicked", "failed")
    }
    stats_page = _figures(marketer_client.get(f"/stats/campaigns/{campaign.pk}/").content.decode())
    api = APIClient()
    api.force_authenticate(marketer)
    funnel = api.get(f"/api/campaigns/{campaign.pk}/stats/").json()["funnel"]
    via_api = {name: str(funnel[name.replace("-", "_")]) for name in on_page}

    assert on_page == {name.removeprefix("f-"): stats_page[name] for name in FIGURES if name != "r-delivery"}
    assert on_page == via_api
    assert on_page == {
        "sent": "4",
        "delivered-rcs": "2",
        "delivered-sms": "1",
        "read": "2",  # c read it; a clicked it, which implies reading (campaigns.state)
        "clicked": "1",
        "failed": "1",
    }
    assert stats_page["r-delivery"] == "75.0%" and funnel["delivery_rate"] == 0.75
