"""Segment pages, API and admin: rows in, errors next to the row, the live count, the campaign choice."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Campaign, Contact, Segment

from .conftest import make_audience, make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)


def _tiered(size: int = 12):
    audience = make_audience(size, unsubscribed=2)
    for contact in Contact.objects.filter(audience=audience):
        contact.attributes = {
            "tier": "gold" if contact.pk % 2 else "silver",
            "age": str(20 + contact.pk % 30),
        }
        contact.save()
    return audience


def _token(user) -> dict:
    from rest_framework.authtoken.models import Token

    return {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=user).key}"}


def test_builder_saves_rows_as_rules_and_counts_live(marketer_client):
    audience = _tiered()
    rows = {
        "name": "Gold",
        "audience": audience.pk,
        "match": "all",
        "rule-0-kind": "attribute",
        "rule-0-name": "tier",
        "rule-0-op": "equals",
        "rule-0-value": "gold",
        "rule-3-kind": "subscribed",
        "rule-3-subscribed": "yes",
    }
    gold = Contact.objects.filter(audience=audience, attributes__tier="gold")
    count = marketer_client.get(reverse("campaigns:segment_count"), rows).content.decode()
    assert f'<strong id="segment-count-value">{gold.filter(subscribed=True).count()}</strong>' in count
    response = marketer_client.post(reverse("campaigns:segment_create"), rows)
    segment = Segment.objects.get(name="Gold")
    assert response.url == segment.get_absolute_url()
    assert segment.rules == [
        {"kind": "attribute", "name": "tier", "op": "equals", "value": "gold"},
        {"kind": "subscribed", "value": True},
    ]
    page = marketer_client.get(segment.get_absolute_url()).content.decode()
    assert 'value="gold"' in page and "hx-get" in page
    listing = marketer_client.get(reverse("campaigns:segment_list")).content.decode()
    assert 'tier equals &#x27;gold&#x27; <span class="muted">and</span> subscribed' in listing


def test_a_bad_row_is_named_next_to_it(marketer_client):
    audience = _tiered()
    rows = {
        "name": "Bad",
        "audience": audience.pk,
        "match": "all",
        "rule-0-kind": "attribute",
        "rule-0-name": "age",
        "rule-0-op": "between",
        "rule-0-min": "forty",
    }
    page = marketer_client.post(reverse("campaigns:segment_create"), rows).content.decode()
    assert '<ul class="errorlist"><li>min is a number.</li></ul>' in page and not Segment.objects.exists()
    count = marketer_client.get(reverse("campaigns:segment_count"), rows).content.decode()
    assert "min is a number" in count


def test_campaign_builder_offers_segments_and_refuses_another_audiences(marketer_client):
    audience, other = _tiered(), make_audience(3)
    segment = Segment.objects.create(name="Gold", audience=audience, rules=[])
    campaign = make_campaign(audience=other)
    page = marketer_client.get(reverse("campaigns:edit", args=[campaign.pk])).content.decode()
    assert f'data-audience="{audience.pk}"' in page
    data = {
        "name": campaign.name,
        "provider": campaign.provider_id,
        "template": campaign.template_id,
        "audience": other.pk,
        "segment": segment.pk,
        "schedule": "now",
        "schedule_timezone": "UTC",
        "click_tracking": "off",
        "map_source_1": "attribute",
        "map_value_1": "name",
        "map_source_2": "literal",
        "map_value_2": "42",
    }
    page = marketer_client.post(reverse("campaigns:edit", args=[campaign.pk]), data).content.decode()
    assert "not of the campaign&#x27;s audience" in page
    data["audience"] = audience.pk
    marketer_client.post(reverse("campaigns:edit", args=[campaign.pk]), data)
    campaign.refresh_from_db()
    assert campaign.segment == segment
    detail = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert "segment <a" in detail


def test_api_crud_and_count(marketer, client):
    headers = _token(marketer)
    audience = _tiered()
    body = {
        "name": "Older",
        "audience": audience.pk,
        "match": "all",
        "rules": [{"kind": "attribute", "name": "age", "op": "between", "min": 35}],
    }
    created = client.post("/api/segments/", body, content_type="application/json", **headers)
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    count = client.get(f"/api/segments/{pk}/count/", **headers).json()
    older = [c for c in Contact.objects.filter(audience=audience) if float(c.attributes["age"]) >= 35]
    assert count == {"count": len(older), "subscribed": sum(c.subscribed for c in older)}
    bad = client.patch(
        f"/api/segments/{pk}/",
        {"rules": [{"kind": "country", "value": "ZZ"}]},
        content_type="application/json",
        **headers,
    )
    assert bad.status_code == 400 and bad.json() == {"rules": {"0": ["Unknown country code ZZ."]}}
    campaign = make_campaign(audience=audience, segment_id=pk)
    assert client.delete(f"/api/segments/{pk}/", **headers).status_code == 409
    campaign.delete()
    assert client.delete(f"/api/segments/{pk}/", **headers).status_code == 204


def test_api_campaign_segment_must_be_of_its_audience(marketer, client):
    campaign = make_campaign()
    segment = Segment.objects.create(name="Elsewhere", audience=make_audience(2), rules=[])
    response = client.patch(
        f"/api/campaigns/{campaign.pk}/",
        {"segment": segment.pk},
        content_type="application/json",
        **_token(marketer),
    )
    assert response.status_code == 400 and "segment" in response.json()
    assert Campaign.objects.get(pk=campaign.pk).segment is None


def test_admin_shows_rules_in_words_and_the_count(admin_client):
    audience = _tiered()
    rules = [{"kind": "attribute", "name": "tier", "op": "equals", "value": "gold"}]
    segment = Segment.objects.create(name="Gold", audience=audience, rules=rules)
    listing = admin_client.get(reverse("admin:campaigns_segment_changelist")).content.decode()
    assert "tier equals &#x27;gold&#x27;" in listing
    page = admin_client.get(reverse("admin:campaigns_segment_change", args=[segment.pk])).content.decode()
    gold = Contact.objects.filter(audience=audience, attributes__tier="gold").count()
    assert f'<div class="readonly">{gold}</div>' in page
