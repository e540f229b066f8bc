"""Real Chromium: a finished campaign's stats page, then a tracked link followed, counted once.

The campaign runs for real: the engine sends to the vendor simulator over HTTP, the simulator posts
its delivery reports to the live server's callback URL, our click tracking rewrote the link.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from campaigns import services
from campaigns.models import Audience, Campaign, Contact, Message
from providers.models import Provider
from templates_app.models import MessageTemplate

# The shop page the link leads to: served by the live server itself (the test has no internet).
TARGET_PATH = "/healthz?from=diwali"


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the campaign to settle")


def post_delivery_reports(provider: Provider, messages: list[Message]) -> None:
    """What the simulator posts, one callback at a time through the real endpoint (SQLite runs)."""
    from django.test import Client
    from django.urls import reverse

    client, now = Client(), int(time.time())
    for status in ("sent", "delivered", "read"):
        for m in messages:
            body = {
                "payloadVersion": "0.1",
                "statuses": [{"msgId": m.msg_id, "channel": "RCS", "status": status, "timestamp": now}],
            }
            response = client.post(
                reverse("callback", args=[provider.callback_token]), body, content_type="application/json"
            )
            assert response.status_code == 200, response.content


@pytest.fixture
def finished_campaign(live_server, simulator, settings, sync_tasks, e2e_user):
    from django.db import connection

    settings.PUBLIC_BASE_URL = live_server.url
    settings.CLICK_TRACKING_BASE_URL = live_server.url
    # On PostgreSQL the simulator's own callbacks reach the live server while the engine sends. The
    # in-memory SQLite test database is one connection shared by the live server's threads, so
    # concurrent callbacks would interleave inside each other's transactions: there the same reports
    # go through the same endpoint one after the other.
    concurrent = connection.vendor == "postgresql"
    simulator.configure(click_share=0.0, reply_share=0.0, callback_delay_ms=20, callbacks=concurrent)
    max_age = connection.settings_dict.get("CONN_MAX_AGE", 0)
    connection.settings_dict["CONN_MAX_AGE"] = 0  # the simulator keeps connections alive; do not pin them
    provider = Provider.objects.create(
        kind="generic_rcs",
        nickname="Sim",
        sender_id="sim-sender",
        is_default=True,
        config={"endpoint": f"{simulator.url}/generic/messages", "method": "POST", "auth_type": "none"},
    )
    template = MessageTemplate.objects.create(
        provider=provider,
        name="diwali",
        status=MessageTemplate.Status.APPROVED,
        content={
            "type": "TEXT",
            "text": "Diwali sale, {{1}}!",
            "suggestions": [
                {
                    "type": "OPEN_URL",
                    "text": "Shop",
                    "postback_data": "shop",
                    "url": live_server.url + TARGET_PATH,
                }
            ],
        },
        sample_values=["Asha"],
    )
    audience = Audience.objects.create(name="Diwali list")
    Contact.objects.bulk_create(
        [
            Contact(audience=audience, phone=f"+9198123456{i}", attributes={"name": f"P{i}"})
            for i in (71, 72, 73)
        ]
    )
    campaign = Campaign.objects.create(
        name="Diwali 2026",
        provider=provider,
        template=template,
        audience=audience,
        placeholder_mapping=[{"source": "attribute", "value": "name"}],
        click_tracking=Campaign.ClickTracking.OURS,
    )
    services.campaign_launch(campaign_id=campaign.pk)
    if not concurrent:
        post_delivery_reports(provider, list(Message.objects.filter(campaign=campaign)))
    wait_for(lambda: Campaign.objects.get(pk=campaign.pk).read_count == 3)
    services.campaign_complete_if_done(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    yield campaign
    connection.settings_dict["CONN_MAX_AGE"] = max_age


def test_finished_campaign_stats_then_a_tracked_click_counted_once(
    logged_in_page, live_server, simulator, finished_campaign
):
    page = logged_in_page
    stats_url = f"{live_server.url}/stats/campaigns/{finished_campaign.pk}/"
    page.goto(stats_url)
    expect(page.locator("#f-sent")).to_have_text("3")
    expect(page.locator("#f-delivered-rcs")).to_have_text("3")
    expect(page.locator("#f-read")).to_have_text("3")
    expect(page.locator("#f-clicked")).to_have_text("0")
    expect(page.locator("#r-delivery")).to_have_text("100.0%")
    expect(page.locator("svg.chart polyline")).to_have_count(4)

    sent = [r["json"] for r in simulator.requests() if r["path"] == "/generic/messages"]
    short = sent[0]["rcsContent"]["content"]["suggestions"][0]["url"]
    target = live_server.url + TARGET_PATH
    assert short.startswith(f"{live_server.url}/c/") and "healthz" not in short

    for _ in range(2):  # the same person follows the link twice: one unique click
        page.goto(short)
        assert page.url == target
        expect(page.locator("body")).to_contain_text('"status": "ok"')

    page.goto(stats_url)
    expect(page.locator("#f-clicked")).to_have_text("1")
    expect(page.locator("#r-ctr")).to_have_text("33.3%")
    page.goto(f"{live_server.url}/stats/")
    expect(page.get_by_role("link", name="Diwali 2026")).to_be_visible()
