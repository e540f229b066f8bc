"""The builder pages through the Django test client: create, edit, errors next to fields, payload tab."""

from __future__ import annotations

import pytest
from django.urls import reverse

from templates_app.models import MessageTemplate

from .conftest import load_fixture

pytestmark = pytest.mark.django_db


def carousel_post(provider, **extra):
    data = {
        "provider": provider.pk,
        "name": "spring_sale",
        "language": "en",
        "format": "CAROUSEL",
        "status": "draft",
        "rejection_reason": "",
        "c.CAROUSEL.card_width": "SMALL",
        "samples.0": "Asha",
    }
    for i, title in enumerate(["Shoes for {{1}}", "Bags", "Hats"]):
        p = f"c.CAROUSEL.cards.{i}"
        data.update(
            {
                f"{p}.title": title,
                f"{p}.description": f"Card {i}",
                f"{p}.media.url": f"https://cdn.example.com/{i}.jpg",
                f"{p}.media.content_type": "image/jpeg",
                f"{p}.media.height": "SHORT",
                f"{p}.media.thumbnail_url": "",
                f"{p}.suggestions.0.type": "REPLY",
                f"{p}.suggestions.0.text": f"Buy {i}",
                f"{p}.suggestions.0.postback_data": "",
            }
        )
    data.update(extra)
    return data


def test_new_page_renders_every_format(marketer_client, provider):
    response = marketer_client.get(reverse("templates_app:create") + "?format=CAROUSEL")
    assert response.status_code == 200
    html = response.content.decode()
    for scope in ("c.TEXT", "c.RICH_CARD", "c.CAROUSEL", "c.MEDIA"):
        assert f'data-scope="{scope}"' in html
    assert 'name="c.CAROUSEL.cards.1.title"' in html  # two blank cards to start from
    assert 'id="tpl-card"' in html and 'id="tpl-suggestion"' in html


def test_create_carousel_stores_neutral_content(marketer_client, provider):
    response = marketer_client.post(reverse("templates_app:create"), carousel_post(provider))
    assert response.status_code == 302, response.content.decode()[:2000]
    template = MessageTemplate.objects.get(name="spring_sale")
    assert template.format == "CAROUSEL" and template.sample_values == ["Asha"]
    content = template.content
    assert content["type"] == "CAROUSEL" and content["card_width"] == "SMALL"
    assert [c["title"] for c in content["cards"]] == ["Shoes for {{1}}", "Bags", "Hats"]
    assert content["cards"][2]["suggestions"] == [
        {"type": "REPLY", "text": "Buy 2", "postback_data": "Buy 2"}
    ]
    assert content["cards"][0]["media"] == {
        "url": "https://cdn.example.com/0.jpg",
        "height": "SHORT",
        "thumbnail_url": "",
        "content_type": "image/jpeg",
    }


def test_over_limit_shows_field_errors_and_saves_nothing(marketer_client, provider):
    data = carousel_post(
        provider,
        **{
            "name": "bad-name!",
            "c.CAROUSEL.cards.1.title": "t" * 201,
            "c.CAROUSEL.cards.2.suggestions.0.text": "x" * 26,
            "c.CAROUSEL.cards.0.media.height": "TALL",
            "samples.0": "",
        },
    )
    response = marketer_client.post(reverse("templates_app:create"), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert MessageTemplate.objects.count() == 0
    assert 'data-errors-for="c.CAROUSEL.cards.1.title"' in html
    assert "Title is 201 characters; the limit is 200." in html
    assert 'data-errors-for="c.CAROUSEL.cards.2.suggestions.0.text"' in html
    assert "Tall media is not allowed in carousels" in html
    assert 'data-errors-for="samples.0"' in html
    assert "Use only letters, digits and underscores." in html
    # What was typed comes back in the form.
    assert 'value="' + "t" * 201 + '"' in html


def test_name_unique_per_provider_and_language(marketer_client, provider):
    marketer_client.post(reverse("templates_app:create"), carousel_post(provider))
    response = marketer_client.post(reverse("templates_app:create"), carousel_post(provider))
    assert response.status_code == 400
    assert "already has a template" in response.content.decode()
    response = marketer_client.post(reverse("templates_app:create"), carousel_post(provider, language="hi"))
    assert response.status_code == 302
    assert MessageTemplate.objects.count() == 2


def test_edit_resets_approved_to_draft_when_content_changes(marketer_client, provider):
    data = load_fixture("text")
    template = MessageTemplate.objects.create(
        provider=provider,
        name="t1",
        format="TEXT",
        content=data["content"],
        sample_values=data["values"],
        status="approved",
    )
    page = marketer_client.get(template.get_absolute_url()).content.decode()
    assert 'name="c.TEXT.suggestions.2.phone_number"' in page and "+14155550123" in page
    post = {
        "provider": provider.pk,
        "name": "t1",
        "language": "en",
        "format": "TEXT",
        "status": "approved",
        "c.TEXT.text": "Changed {{1}}",
        "samples.0": "Ravi",
    }
    response = marketer_client.post(template.get_absolute_url(), post)
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.status == "draft" and template.content["text"] == "Changed {{1}}"
    assert template.content["suggestions"] == []
    assert template.sample_values == ["Ravi"]


def test_rejected_needs_reason(marketer_client, provider):
    post = {
        "provider": provider.pk,
        "name": "t2",
        "language": "en",
        "format": "TEXT",
        "status": "rejected",
        "rejection_reason": "",
        "c.TEXT.text": "Hello",
    }
    response = marketer_client.post(reverse("templates_app:create"), post)
    assert response.status_code == 400 and "Give the reason" in response.content.decode()
    post["rejection_reason"] = "Promotional content in a utility template"
    assert marketer_client.post(reverse("templates_app:create"), post).status_code == 302
    assert MessageTemplate.objects.get(name="t2").rejection_reason.startswith("Promotional")


def test_payload_tab_builds_the_providers_request_with_sample_values(marketer_client, provider):
    response = marketer_client.post(reverse("templates_app:payload"), carousel_post(provider))
    answer = response.json()
    assert answer["errors"] == {}
    request = answer["request"]
    assert request["method"] == "POST" and request["headers"]["X-Apikey"] == "********"
    assert request["json"]["to"] == "+14155550123"
    assert request["json"]["callbackURL"] == provider.callback_url
    assert request["json"]["content"]["cards"][0]["title"] == "Shoes for Asha"


def test_payload_tab_reports_errors_and_missing_samples(marketer_client, provider):
    data = carousel_post(provider, **{"samples.0": "", "c.CAROUSEL.cards.1.title": "t" * 201})
    answer = marketer_client.post(reverse("templates_app:payload"), data).json()
    assert answer["errors"]["cards.1.title"] == ["Title is 201 characters; the limit is 200."]
    assert answer["request"]["json"]["content"]["cards"][0]["title"] == "Shoes for {{1}}"


def test_list_filters_by_status(marketer_client, provider):
    MessageTemplate.objects.create(
        provider=provider, name="alpha_draft", content={"type": "TEXT", "text": "x"}
    )
    MessageTemplate.objects.create(
        provider=provider, name="beta_approved", status="approved", content={"type": "TEXT", "text": "x"}
    )
    html = marketer_client.get(reverse("templates_app:list") + "?status=approved").content.decode()
    assert ">beta_approved<" in html and "alpha_draft" not in html
