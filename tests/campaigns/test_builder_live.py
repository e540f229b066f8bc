"""The builder before saving: preview for the audience's first contact, the estimate, the user's timezone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import Campaign, Contact
from rcsconnect.models import Profile
from tests.campaigns.conftest import make_audience, make_provider, make_template

pytestmark = pytest.mark.django_db


def live(client, **fields) -> str:
    response = client.get(reverse("campaigns:builder_live"), fields)
    assert response.status_code == 200
    return response.content.decode()


def test_preview_fills_the_placeholders_from_the_first_contact(marketer_client):
    provider = make_provider(max_rate=10)
    template = make_template(provider)  # "Hello {{1}}, your code is {{2}}"
    audience = make_audience(25, unsubscribed=2)  # contacts 0 and 1 unsubscribed; "Person <i>"
    fields = {"provider": provider.pk, "template": template.pk, "audience": audience.pk}

    page = live(
        marketer_client, **fields, map_source_1="attribute", map_value_1="name", map_source_2="literal"
    )
    assert '<b class="recipients">23</b>' in page
    assert '<span class="unsubscribed">2</span>' in page
    assert '<b class="duration">3 s</b>' in page and "at 10 messages/s" in page
    first = Contact.objects.filter(audience=audience, subscribed=True).order_by("id").first()
    assert f"As {first.phone} gets it" in page
    assert "Hello Person 2, your code is {{2}}" in page  # {{2}} not given yet: shown as is

    page = live(
        marketer_client,
        **fields,
        map_source_1="attribute",
        map_value_1="name",
        map_source_2="literal",
        map_value_2="SPRING",
    )
    assert "Hello Person 2, your code is SPRING" in page

    page = live(
        marketer_client,
        **fields,
        map_source_1="attribute",
        map_value_1="city",
        map_source_2="literal",
        map_value_2="X",
    )
    assert "Contact has no value for attribute &#x27;city&#x27; ({{1}})" in page


def test_without_template_or_audience_it_says_what_to_pick(marketer_client):
    page = live(marketer_client)
    assert "Pick a provider and an audience" in page and "Pick a template" in page


def test_mapping_rows_carry_no_error_until_submitted(marketer_client):
    template = make_template(make_provider())
    rows = marketer_client.get(reverse("campaigns:mapping"), {"template": template.pk}).content.decode()
    assert "errorlist" not in rows
    assert 'data-missing-literal="Give the text for {{2}}."' in rows
    assert 'data-missing-attribute="Give an attribute name for {{1}}."' in rows


def test_a_time_entered_in_a_timezone_is_shown_in_it(marketer_client, marketer):
    Profile.objects.create(user=marketer, timezone="Asia/Kolkata")
    page = marketer_client.get(reverse("campaigns:create")).content.decode()
    assert '<option value="Asia/Kolkata" selected>' in page  # the user's timezone by default

    provider = make_provider()
    data = {
        "name": "Christmas",
        "provider": provider.pk,
        "template": make_template(provider, text="Hi").pk,
        "audience": make_audience(3).pk,
        "click_tracking": "off",
        "schedule": "later",
        "scheduled_local": "2099-12-25T10:00",
        "schedule_timezone": "Asia/Kolkata",
    }
    assert marketer_client.post(reverse("campaigns:create"), data).status_code == 302
    campaign = Campaign.objects.get(name="Christmas")
    assert campaign.scheduled_at.isoformat() == "2099-12-25T04:30:00+00:00"
    detail = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert '<span class="scheduled-at">2099-12-25 10:00 Asia/Kolkata</span>' in detail
    assert "04:30" not in detail

    marketer_client.post(reverse("profile"), {"timezone": "Europe/London"})
    detail = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert "2099-12-25 10:00 Asia/Kolkata" in detail
    assert "(2099-12-25 04:30 Europe/London, your timezone)" in detail
    edit = marketer_client.get(reverse("campaigns:edit", args=[campaign.pk])).content.decode()
    assert 'value="2099-12-25T10:00"' in edit and '<option value="Asia/Kolkata" selected>' in edit


def test_draft_and_scheduled_pages_show_the_estimate(marketer_client):
    provider = make_provider()
    campaign = Campaign.objects.create(
        name="Soon", provider=provider, template=make_template(provider, text="Hi"), audience=make_audience(4)
    )
    for status in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
        Campaign.objects.filter(pk=campaign.pk).update(status=status)
        for url in (campaign.get_absolute_url(), reverse("campaigns:progress", args=[campaign.pk])):
            page = marketer_client.get(url).content.decode()
            assert '<b class="c-total">4</b>' in page and "4 recipients when launched" in page
