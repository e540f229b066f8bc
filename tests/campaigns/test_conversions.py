"""Conversions: credited to the right campaign within the window, none outside it, a repeated
Idempotency-Key counts once; the funnel shows them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import stats
from campaigns.models import Contact, Conversion, Message

from .conftest import make_campaign

pytestmark = pytest.mark.django_db


def _message(campaign, contact, **stamps) -> Message:
    return Message.objects.create(
        campaign=campaign,
        provider=campaign.provider,
        contact=contact,
        to=contact.phone,
        msg_id=f"{campaign.pk}-{contact.pk}",
        **stamps,
    )


def test_credited_to_the_last_message_received_or_clicked(api, settings):
    settings.RCS_CONVERSION_WINDOW_HOURS = 48
    now = timezone.now()
    older, newer, clicked = make_campaign(size=3), make_campaign(size=1), make_campaign(size=1)
    contact = older.audience.contacts.first()
    _message(older, contact, sent_at=now - timedelta(hours=30))
    _message(newer, contact, sent_at=now - timedelta(hours=10))
    response = api({"phone": contact.phone, "event": "purchase", "value": "19.99"})
    assert response.status_code == 201, response.json()
    assert response.json()["campaign"] == newer.pk
    # A click later than the last send: the clicked campaign gets the next one.
    _message(clicked, contact, sent_at=now - timedelta(hours=40), clicked_at=now - timedelta(hours=1))
    assert api({"contact": contact.pk, "event": "purchase"}).json()["campaign"] == clicked.pk
    funnel = stats.campaign_funnel(newer)
    assert (funnel.conversions, str(funnel.conversion_value)) == (1, "19.99")


def test_outside_the_window_nothing_is_credited(api, settings):
    settings.RCS_CONVERSION_WINDOW_HOURS = 24
    campaign = make_campaign(size=1)
    contact = campaign.audience.contacts.first()
    _message(campaign, contact, sent_at=timezone.now() - timedelta(hours=25))
    response = api({"phone": contact.phone, "event": "signup"})
    assert response.status_code == 201
    assert response.json()["campaign"] is None and response.json()["message"] is None
    assert stats.campaign_funnel(campaign).conversions == 0
    # A conversion dated back inside the window is credited.
    at = (timezone.now() - timedelta(hours=2)).isoformat()
    assert (
        api({"phone": contact.phone, "event": "signup", "occurred_at": at}).json()["campaign"] == campaign.pk
    )


def test_repeated_idempotency_key_counts_once(api):
    campaign = make_campaign(size=1)
    contact = campaign.audience.contacts.first()
    message = _message(campaign, contact, sent_at=timezone.now() - timedelta(minutes=5))
    Message.objects.filter(pk=message.pk).update(delivered_at=timezone.now() - timedelta(minutes=4))
    campaign.sent_count = campaign.delivered_rcs_count = 1
    campaign.save()
    first = api({"phone": contact.phone, "event": "purchase", "value": 10}, key="order-17")
    again = api({"phone": contact.phone, "event": "purchase", "value": 10}, key="order-17")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert Conversion.objects.count() == 1
    funnel = stats.campaign_funnel(campaign)
    assert (funnel.conversions, funnel.converted, funnel.conversion_rate) == (1, 1, 1.0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "purchase"}, "phone"),
        ({"phone": "12", "event": "purchase"}, "phone"),
        ({"phone": "+919812345678"}, "event"),
        ({"phone": "+919812345678", "event": "x", "value": -1}, "value"),
        ({"phone": "+919812345678", "event": "x", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
    ],
)
def test_bad_input_names_the_field(api, body, field):
    response = api(body)
    assert response.status_code == 400 and field in response.json()
    assert not Conversion.objects.exists()


def test_contact_and_another_phone_is_refused(api):
    contact = Contact.objects.create(audience=make_campaign(size=0).audience, phone="+919812345670")
    response = api({"contact": contact.pk, "phone": "+919812345671", "event": "x"})
    assert response.status_code == 400 and "phone" in response.json()


def test_stats_page_and_api_show_conversions(api, marketer_client):
    campaign = make_campaign(size=1)
    contact = campaign.audience.contacts.first()
    _message(campaign, contact, sent_at=timezone.now() - timedelta(minutes=5))
    api({"phone": contact.phone, "event": "purchase", "value": "5.50"})
    page = marketer_client.get(f"/stats/campaigns/{campaign.pk}/").content.decode()
    assert '<b id="f-conversions">1</b>' in page and '<b id="f-conversion-value">5.50</b>' in page
    funnel = marketer_client.get(f"/api/campaigns/{campaign.pk}/stats/").json()["funnel"]
    assert (funnel["conversions"], funnel["conversion_value"]) == (1, "5.50")
