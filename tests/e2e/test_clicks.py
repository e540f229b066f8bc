"""Real Chromium follows a tracked short link: redirected, counted once per recipient, shown in stats."""

from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.clicks import shorten_urls
from campaigns.models import Campaign, ShortLink
from tests.api.factories import make_campaign, make_message, make_provider


@pytest.fixture
def tracked_link(live_server, settings, transactional_db):
    settings.CLICK_TRACKING_BASE_URL = live_server.url
    provider = make_provider()
    campaign = make_campaign(provider, click_tracking=Campaign.ClickTracking.OURS, status="completed")
    message = make_message(provider, campaign, status="delivered", rcs_status="delivered")
    target = f"{live_server.url}/healthz"
    content = {
        "type": "TEXT",
        "text": "Our sale",
        "suggestions": [{"type": "OPEN_URL", "text": "Open", "postback_data": "open", "url": target}],
    }
    short = shorten_urls(content, message=message)["suggestions"][0]["url"]
    assert short.startswith(f"{live_server.url}/c/")
    return campaign, short, target


def test_following_a_tracked_link_counts_one_click(logged_in_page, live_server, tracked_link):
    page = logged_in_page
    campaign, short, target = tracked_link
    page.goto(short)
    assert page.url == target  # redirected to the stored URL
    page.goto(short)  # the same recipient again: a second click, still one clicker
    link = ShortLink.objects.get()
    assert (link.click_count, link.bot_count) == (2, 0) and link.first_clicked_at

    page.goto(f"{live_server.url}{reverse('campaigns:stats_campaign', args=[campaign.pk])}")
    assert page.locator("#f-clicked").inner_text().strip() == "1"
    campaign.refresh_from_db()
    assert campaign.clicked_count == 1


def test_an_unknown_short_link_is_a_404_page(page, live_server, transactional_db):
    response = page.goto(f"{live_server.url}/c/NoSuchLk")
    assert response.status == 404
    assert page.url == f"{live_server.url}/c/NoSuchLk"  # no redirect anywhere
