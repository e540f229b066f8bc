"""The user's timezone: set once from the browser, changed on the profile page, used on every page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from rcsconnect import timezones
from rcsconnect.models import Profile

pytestmark = pytest.mark.django_db


def test_the_browser_sets_it_once_and_never_overrides_a_choice(marketer_client, marketer):
    page = marketer_client.get(reverse("home")).content.decode()
    assert f'data-detect-timezone="{reverse("profile_timezone")}"' in page

    url = reverse("profile_timezone")
    assert marketer_client.post(url, {"timezone": "Asia/Kolkata"}).status_code == 204
    assert Profile.objects.get(user=marketer).timezone == "Asia/Kolkata"
    assert "data-detect-timezone" not in marketer_client.get(reverse("home")).content.decode()

    assert marketer_client.post(url, {"timezone": "Europe/Paris"}).status_code == 204
    assert Profile.objects.get(user=marketer).timezone == "Asia/Kolkata"

    bad = marketer_client.post(url, {"timezone": "Mars/Olympus"})
    assert bad.status_code == 400
    assert "Mars/Olympus" in bad.json()["timezone"][0]


def test_the_profile_page_changes_it_and_pages_show_times_in_it(marketer_client, marketer):
    from tests.campaigns.conftest import make_audience

    page = marketer_client.get(reverse("profile"))
    assert page.status_code == 200
    assert b"data-timezone-select" in page.content
    response = marketer_client.post(reverse("profile"), {"timezone": "America/New_York"})
    assert response.status_code == 302
    assert Profile.objects.get(user=marketer).timezone == "America/New_York"

    audience = make_audience(1)
    audience.created_at = datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("UTC"))
    audience.save(update_fields=["created_at"])
    listing = marketer_client.get(reverse("campaigns:audience_list")).content.decode()
    assert "2026-07-01 08:00" in listing  # 12:00 UTC in New York (EDT)

    refused = marketer_client.post(reverse("profile"), {"timezone": "Nowhere/City"})
    assert refused.status_code == 200
    assert b"Select a valid choice" in refused.content


def test_common_zones_come_first_and_legacy_aliases_are_left_out():
    groups = timezones.choices()
    assert groups[0][0] == "Common" and groups[0][1][0] == ("UTC", "UTC")
    offered = [value for _, options in groups for value, _ in options]
    assert "Asia/Kolkata" in offered and "US/Eastern" not in offered and "Etc/GMT+5" not in offered
    assert len(offered) == len(set(offered))
    assert timezones.is_valid("US/Eastern") and not timezones.is_valid("")


def test_an_old_name_the_browser_reports_is_saved_as_the_current_one(marketer_client, marketer):
    assert marketer_client.post(reverse("profile_timezone"), {"timezone": "Asia/Calcutta"}).status_code == 204
    assert Profile.objects.get(user=marketer).timezone == "Asia/Kolkata"
    offered = [value for _, options in timezones.choices() for value, _ in options]
    assert "Asia/Calcutta" not in offered
