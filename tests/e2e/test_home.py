"""Browser: the home page's setup checklist ticks itself as a new install is set up, then makes way
for the figures; screenshots of the home page, the campaign builder and a sending campaign go to
docs/screenshots/."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaigns.models import Campaign
from campaigns.services import campaign_fan_out_run
from providers.models import SendTest
from tests.campaigns.conftest import make_audience, make_campaign, make_provider, make_template

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def held_dispatch(monkeypatch):
    """Launch only queues work: the campaign stays "sending" for the screenshot."""
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)


def _ticks(page) -> list[str]:
    return page.locator("#setup-checklist li").evaluate_all("items => items.map(i => i.dataset.done)")


def test_home_checklist_ticks_itself_then_shows_the_figures(logged_in_page, live_server, held_dispatch):
    page = logged_in_page
    home = f"{live_server.url}/"
    page.goto(home)
    assert _ticks(page) == ["false"] * 5
    assert page.get_by_role("link", name="API docs").get_attribute("href") == "/api/docs/"

    provider = make_provider(nickname="Vendor A", is_default=True)
    page.reload()
    assert _ticks(page) == ["true", "false", "false", "false", "false"]
    assert page.locator("#setup-checklist li").first.locator(".badge", has_text="done").is_visible()

    SendTest.objects.create(
        provider=provider, msg_id="e2e-1", to="+919812345678", rcs_text="hi", state="done"
    )
    template = make_template(provider, name="hello", text="Hi {{1}}")
    audience = make_audience(24)
    page.reload()
    assert _ticks(page) == ["true", "true", "true", "true", "false"]

    # The last step through the dashboard: launch a campaign from its page.
    campaign = make_campaign(provider=provider, template=template, audience=audience, name="Diwali sale")
    page.goto(f"{live_server.url}{campaign.get_absolute_url()}")
    assert page.locator(".c-total").inner_text() == "24"  # a draft shows the estimate's recipients
    asked: list[str] = []
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.accept())
    page.click("button[name=launch]")
    page.locator("#campaign-status", has_text="Sending").wait_for()
    assert asked == ["Launch Diwali sale to 24 recipients now?"]
    campaign_fan_out_run(campaign_id=campaign.pk)  # the launch's fan-out task, as a worker runs it
    Campaign.objects.filter(pk=campaign.pk).update(processed_count=9, sent_count=9, delivered_rcs_count=6)
    page.reload()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "campaign-sending.png"), full_page=True)

    page.goto(home)
    assert page.locator("#setup-checklist").count() == 0  # every step done: the checklist makes way
    sending = page.locator("#sending-now")
    assert "Diwali sale" in sending.inner_text() and "37%" in sending.inner_text()
    assert "Vendor A" in page.locator("#provider-health").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "home.png"), full_page=True)

    page.goto(f"{live_server.url}/campaigns/new/")
    page.fill("input[name=name]", "Weekend offer")
    page.select_option("#id_audience", label=audience.name)
    page.select_option("#id_template", label=f"hello (en) · {provider}")
    page.locator("input[name=map_value_1]").type("name")
    page.locator(".preview-text", has_text="Hi Person 0").wait_for()  # the live preview, before saving
    page.screenshot(path=str(SCREENSHOTS / "campaign-builder.png"), full_page=True)
