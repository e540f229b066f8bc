"""Templates API: limits from templates_app.limits, by content path; uniqueness; filters."""

from __future__ import annotations

import pytest

from templates_app.models import MessageTemplate
from tests.api.factories import make_provider

pytestmark = pytest.mark.django_db
URL = "/api/templates/"


def body(provider, **kw):
    data = {
        "provider": provider.pk,
        "name": "order_ready",
        "language": "en",
        "content": {
            "type": "TEXT",
            "text": "Order {{1}} is ready",
            "suggestions": [
                {
                    "type": "OPEN_URL",
                    "text": "Track",
                    "url": "https://shop.example.com/o/{{1}}",
                    "url_kind": "dynamic",
                }
            ],
        },
        "sample_values": ["A-17"],
    }
    data.update(kw)
    return data


def test_create_read_update_delete(api):
    provider = make_provider()
    response = api.post(URL, body(provider), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["format"] == "TEXT" and data["status"] == "draft"
    pk = data["id"]
    response = api.patch(f"{URL}{pk}/", {"content": {"type": "TEXT", "text": "Ready: {{1}}"}}, format="json")
    assert response.status_code == 200, response.json()
    assert MessageTemplate.objects.get(pk=pk).content["text"] == "Ready: {{1}}"
    assert api.get(f"{URL}?provider={provider.pk}").json()["count"] == 1
    assert api.get(f"{URL}?provider={provider.pk + 100}").json()["count"] == 0
    response = api.delete(f"{URL}{pk}/")
    assert response.status_code == 200 and response.json() == {
        "cancelled_campaigns": [],
        "kept_for_history": False,
    }
    assert not MessageTemplate.all_objects.filter(pk=pk).exists()


def test_changing_an_approved_template_sends_it_back_to_draft_and_delete_keeps_used_ones(api):
    from campaigns.models import Campaign
    from tests.api.factories import make_campaign

    campaign = make_campaign(status=Campaign.Status.SENDING)
    template = campaign.template
    response = api.patch(
        f"{URL}{template.pk}/", {"content": {"type": "TEXT", "text": "Hi {{1}}"}}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "draft"
    response = api.delete(f"{URL}{template.pk}/")
    assert response.json() == {"cancelled_campaigns": [campaign.name], "kept_for_history": True}
    assert api.get(f"{URL}{template.pk}/").status_code == 404
    campaign.refresh_from_db()
    assert campaign.status == "cancelled" and campaign.template_id == template.pk


def test_limits_are_reported_by_content_path(api):
    provider = make_provider()
    content = {
        "type": "TEXT",
        "text": "x" * 1001,
        "suggestions": [{"type": "DIAL_PHONE", "text": "Call", "phone_number": "12"}],
    }
    response = api.post(URL, body(provider, content=content, sample_values=[]), format="json")
    assert response.status_code == 400
    errors = response.json()["content"]
    assert "text" in errors and any(key.startswith("suggestions.0") for key in errors)
    carousel = {"type": "CAROUSEL", "card_width": "MEDIUM", "cards": [{"title": "only one"}]}
    response = api.post(URL, body(provider, content=carousel, sample_values=[]), format="json")
    assert response.status_code == 400 and "cards" in response.json()["content"]
    assert not MessageTemplate.objects.exists()


def test_missing_sample_value_and_bad_name_and_duplicate(api):
    provider = make_provider()
    response = api.post(URL, body(provider, sample_values=[]), format="json")
    assert response.status_code == 400 and "content" in response.json()
    response = api.post(URL, body(provider, name="bad name!"), format="json")
    assert response.status_code == 400 and "name" in response.json()
    assert api.post(URL, body(provider), format="json").status_code == 201
    response = api.post(URL, body(provider), format="json")
    assert response.status_code == 400 and "name" in response.json()
    assert api.post(URL, body(provider, language="hi"), format="json").status_code == 201


def test_content_must_be_an_object(api):
    provider = make_provider()
    for content in ("TEXT", [], {"type": "VIDEO"}, None):
        response = api.post(URL, body(provider, content=content), format="json")
        assert response.status_code == 400 and "content" in response.json(), content
