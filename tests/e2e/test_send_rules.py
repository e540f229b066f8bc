"""Browser: the builder's send-rule fields (the India preset, the window, the cap) and the progress
card's "waiting for window" count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from campaigns.models import Audience, Campaign, Contact, MessageStatus
from tests.campaigns.conftest import make_provider, make_template


@pytest.fixture
def held_dispatch(monkeypatch):
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)


def test_builder_window_and_cap_then_progress_counts_those_waiting(
    logged_in_page, live_server, simulator, sync_tasks, held_dispatch
):
    from campaigns.services import dispatch_run

    page = logged_in_page
    simulator.configure(callbacks=False)
    provider = make_provider(url=f"{simulator.url}/generic/messages", is_default=True, max_rate=50)
    make_template(provider, name="promo", text="Sale for {{1}}")
    audience = Audience.objects.create(name="India audience")
    Contact.objects.bulk_create(
        [
            Contact(audience=audience, phone=f"+9198123456{i:02d}", attributes={"name": "Asha"})
            for i in range(3)
        ]
    )

    page.goto(f"{live_server.url}/campaigns/new/")
    page.fill("input[name=name]", "Windowed campaign")
    page.select_option("#id_audience", label="India audience")
    page.select_option("#id_template", label=f"promo (en) · {provider}")
    page.locator("input[name=map_value_1]").wait_for()
    page.fill("input[name=map_value_1]", "name")
    # The audience holds +91 numbers: the live panel offers India's promotional hours.
    preset = page.locator("#india-preset button[data-window-preset]")
    preset.wait_for()
    assert "09:00-21:00 IST" in preset.inner_text()
    # The live panel re-renders after each change; a click on a panel being replaced is lost, so
    # the click waits for the panel to settle.
    page.wait_for_load_state("networkidle")
    preset.click()
    expect(page.locator("#id_window_start")).to_have_value("09:00")
    expect(page.locator("#id_window_end")).to_have_value("21:00")
    expect(page.locator("#id_window_timezone")).to_have_value("Asia/Kolkata")
    page.locator("#estimate-window").wait_for()  # the live estimate now accounts for the window
    expect(page.locator("#estimate-timing")).to_contain_text("Sending starts")

    # A bad window is refused beside its field, nothing saved.
    page.fill("#id_window_end", "09:00")
    page.click("#campaign-form button[type=submit]")
    assert "ends when it starts" in page.locator("#send-rules").inner_text()
    assert not Campaign.objects.filter(name="Windowed campaign").exists()

    # A window that opens two hours from now in India, so every message waits for it.
    india_now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Kolkata"))
    opens, closes = india_now + timedelta(hours=2), india_now + timedelta(hours=3)
    page.fill("#id_window_start", opens.strftime("%H:%M"))
    page.fill("#id_window_end", closes.strftime("%H:%M"))
    page.fill("#id_frequency_cap", "2")
    page.fill("#id_frequency_period_hours", "24")
    page.click("#campaign-form button[type=submit]")
    rules = page.locator("#send-rules").inner_text()
    assert f"Window {opens:%H:%M}-{closes:%H:%M} (Asia/Kolkata)" in rules
    assert "At most 2 marketing messages per 24 h" in rules
    campaign = Campaign.objects.get(name="Windowed campaign")
    assert (campaign.frequency_cap, campaign.window_timezone) == (2, "Asia/Kolkata")
    # The draft's estimate says when sending starts (the window opens in about two hours).
    expect(page.locator("#estimate-timing")).to_contain_text(
        f"Sending starts at {opens:%H:%M} local time in Asia/Kolkata"
    )

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button[name=launch]")
    page.locator("#campaign-status", has_text="Sending").wait_for()
    dispatch_run(provider_id=provider.pk, budget=5)  # claims them; each waits for its window
    assert set(campaign.messages.values_list("status", flat=True)) == {MessageStatus.WAITING}
    waiting = page.locator("#window-waiting")
    waiting.wait_for(timeout=10_000)  # the progress card polls every 2 s
    assert waiting.inner_text().startswith(f"3 wait until {opens:%H:%M} local time")
    assert page.locator(".c-window").inner_text() == "3"
    assert simulator.stats(provider.sender_id)["accepted"] == 0
