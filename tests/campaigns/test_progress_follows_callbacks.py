"""Delivered counts on the campaign page follow the callbacks, also while every task worker is busy.

No task cluster runs here and tasks are not run inline: the applier task a callback queues stays in
the queue, as it does while a sending campaign's dispatch tasks hold every worker. The campaign page
and the dispatch loop apply the pending events themselves.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from campaigns.engine.dispatch import Dispatcher
from campaigns.models import Campaign
from providers.models import ProviderEvent
from tests.api.factories import make_audience, make_campaign, make_message

pytestmark = pytest.mark.django_db


def post(client, provider, events) -> None:
    url = reverse("callback", args=[provider.callback_token])
    response = client.post(url, data=json.dumps({"events": events}), content_type="application/json")
    assert response.status_code == 200, response.content


def sending_campaign(provider, n: int = 2):
    campaign = make_campaign(provider, audience=make_audience([f"+1555010{i:04d}" for i in range(n)]))
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING, total_count=n)
    return campaign, [make_message(provider, campaign, msg_id=f"p-{i}") for i in range(n)]


def test_the_progress_card_shows_a_delivery_once_its_callback_is_accepted(marketer_client, double_provider):
    campaign, messages = sending_campaign(double_provider)
    post(
        marketer_client,
        double_provider,
        [{"msgId": "p-0", "status": "sent"}, {"msgId": "p-0", "status": "delivered"}],
    )
    assert ProviderEvent.objects.filter(applied=False).count() == 2  # the applier task has not run

    response = marketer_client.get(reverse("campaigns:progress", args=[campaign.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<b class="c-delivered-rcs">1</b>' in html
    assert '<b class="c-sent">1</b>' in html
    assert not ProviderEvent.objects.filter(applied=False).exists()

    post(marketer_client, double_provider, [{"msgId": "p-1", "status": "delivered"}])
    html = marketer_client.get(reverse("campaigns:progress", args=[campaign.pk])).content.decode()
    assert '<b class="c-delivered-rcs">2</b>' in html
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.delivered_rcs_count) == (2, 2)


def test_the_detail_page_applies_them_too_and_a_draft_page_writes_nothing(marketer_client, double_provider):
    campaign, _ = sending_campaign(double_provider, n=1)
    post(marketer_client, double_provider, [{"msgId": "p-0", "status": "read"}])
    html = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert '<b class="c-read">1</b>' in html

    draft = make_campaign(double_provider)
    make_message(double_provider, draft, msg_id="d-0")
    post(marketer_client, double_provider, [{"msgId": "d-0", "status": "delivered"}])
    marketer_client.get(draft.get_absolute_url())
    assert ProviderEvent.objects.filter(msg_id="d-0", applied=False).exists()


def test_the_dispatch_loop_applies_its_providers_pending_callbacks(client, double_provider):
    campaign, _ = sending_campaign(double_provider)
    post(
        client, double_provider, [{"msgId": "p-0", "status": "delivered"}, {"msgId": "p-1", "status": "read"}]
    )

    Dispatcher(double_provider, budget=0).apply_pending()

    campaign.refresh_from_db()
    assert (campaign.delivered_rcs_count, campaign.read_count) == (2, 1)
    assert not ProviderEvent.objects.filter(provider=double_provider, applied=False).exists()
