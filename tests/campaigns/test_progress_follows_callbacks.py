"""Delivered counts on the campaign page follow the callbacks, also while every task worker is busy.

No task cluster runs here and tasks are not run inline: the applier task a callback queues stays in
the queue, as it does while a sending campaign's dispatch tasks hold every worker. The dispatch loop
(of any provider) applies the pending events itself; the campaign page only reads.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from campaigns.engine.dispatch import Dispatcher
from campaigns.models import Campaign
from providers.models import ProviderEvent
from tests.api.factories import make_audience, make_campaign, make_message, make_provider

pytestmark = pytest.mark.django_db


def post(client, provider, events) -> None:
    url = reverse("callback", args=[provider.callback_token])
    response = client.post(url, data=json.dumps({"events": events}), content_type="application/json")
    assert response.status_code == 200, response.content


def sending_campaign(provider, n: int = 2):
    campaign = make_campaign(provider, audience=make_audience([f"+1555010{i:04d}" for i in range(n)]))
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING, total_count=n)
    return campaign, [make_message(provider, campaign, msg_id=f"p-{i}") for i in range(n)]


def test_the_progress_card_shows_a_delivery_once_a_dispatch_loop_applied_its_callback(
    marketer_client, double_provider
):
    campaign, messages = sending_campaign(double_provider)
    busy = make_provider(nickname="Busy")  # its dispatch task holds the worker the applier waits for
    post(
        marketer_client,
        double_provider,
        [{"msgId": "p-0", "status": "sent"}, {"msgId": "p-0", "status": "delivered"}],
    )
    assert ProviderEvent.objects.filter(applied=False).count() == 2  # the applier task has not run
    response = marketer_client.get(reverse("campaigns:progress", args=[campaign.pk]))
    assert response.status_code == 200
    assert '<b class="c-delivered-rcs">0</b>' in response.content.decode()
    assert ProviderEvent.objects.filter(applied=False).count() == 2  # a GET writes nothing

    Dispatcher(busy, budget=0).apply_pending()

    html = marketer_client.get(reverse("campaigns:progress", args=[campaign.pk])).content.decode()
    assert '<b class="c-delivered-rcs">1</b>' in html
    assert '<b class="c-sent">1</b>' in html
    assert not ProviderEvent.objects.filter(applied=False).exists()
    post(marketer_client, double_provider, [{"msgId": "p-1", "status": "delivered"}])
    Dispatcher(busy, budget=0).apply_pending()
    html = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert '<b class="c-delivered-rcs">2</b>' in html
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.delivered_rcs_count) == (2, 2)


def test_the_dispatch_loop_applies_its_providers_pending_callbacks(client, double_provider):
    campaign, _ = sending_campaign(double_provider)
    post(
        client, double_provider, [{"msgId": "p-0", "status": "delivered"}, {"msgId": "p-1", "status": "read"}]
    )

    Dispatcher(double_provider, budget=0).apply_pending()

    campaign.refresh_from_db()
    assert (campaign.delivered_rcs_count, campaign.read_count) == (2, 1)
    assert not ProviderEvent.objects.filter(provider=double_provider, applied=False).exists()
