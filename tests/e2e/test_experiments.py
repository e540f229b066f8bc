"""Real Chromium: an A/B campaign's results page after a real send (the engine sends to the vendor
simulator over HTTP; the holdout gets nothing), with its variants, holdout, lift and the z-tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import conversions
from campaigns.models import Message
from campaigns.services import campaign_launch, dispatch_run
from tests.campaigns.test_experiments import ab_campaign, received


@pytest.fixture
def ab_results(simulator, settings, sync_tasks, monkeypatch, e2e_user):
    settings.RCS_DISPATCH_BUDGET_SECONDS = 60
    simulator.configure(callbacks=False)
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)  # dispatched below
    campaign = ab_campaign(simulator, size=200)
    campaign_launch(campaign_id=campaign.pk)
    dispatch_run(provider_id=campaign.provider_id)
    messages = {v: list(Message.objects.filter(campaign=campaign, variant=v)) for v in ("A", "B", "holdout")}
    assert not {m.to for m in messages["holdout"]} & set(received(simulator))
    # B's recipients click and buy more; one holdout contact buys anyway (the lift's baseline).
    now = timezone.now()
    for label, clicks, buys in (("A", 5, 2), ("B", 30, 12)):
        rows = messages[label]
        Message.objects.filter(pk__in=[m.pk for m in rows[:clicks]]).update(clicked_at=now)
        for m in rows[:buys]:
            conversions.record(phone=m.to, event="purchase", value=20, occurred_at=now + timedelta(seconds=1))
    conversions.record(phone=messages["holdout"][0].to, event="purchase", value=20, occurred_at=now)
    return campaign, messages


def test_ab_results_page_shows_variants_holdout_and_lift(logged_in_page, live_server, ab_results):
    campaign, messages = ab_results
    page = logged_in_page
    page.goto(f"{live_server.url}/stats/campaigns/{campaign.pk}/")
    section = page.locator("#experiment")
    expect(section.get_by_role("heading", name="A/B test")).to_be_visible()
    a, b, holdout = (page.locator(f"#variant-{x}") for x in ("A", "B", "holdout"))
    expect(a).to_contain_text("Variant A")
    expect(b).to_contain_text("Variant B")
    expect(holdout).to_contain_text("Holdout")
    expect(holdout).to_contain_text(str(len(messages["holdout"])))
    expect(holdout).to_contain_text("baseline")
    # B converted 12 of its contacts, the holdout 1 of its: the lift cell shows it (+, percent).
    lift_b = b.locator("td.lift")
    expect(lift_b).to_contain_text("+")
    expect(lift_b).to_contain_text("%")
    significance = page.locator("#significance")
    expect(significance).to_contain_text("two-proportion z-test")
    expect(significance.locator("tr", has_text="B vs A").first).to_be_visible()
    expect(significance.locator("tr", has_text="vs holdout").first).to_be_visible()
    expect(significance).to_contain_text("significant (p < 0.05)")
    expect(page.locator("#funnel")).to_be_visible()


def test_set_up_an_ab_test_in_the_builder_and_the_variants_page(logged_in_page, live_server):
    from tests.campaigns.conftest import make_campaign, make_template

    campaign = make_campaign(size=20)
    one = make_template(campaign.provider, text="Offer {{1}}")
    two = make_template(campaign.provider, text="Plain offer")
    page = logged_in_page
    page.goto(f"{live_server.url}/campaigns/{campaign.pk}/edit/")
    page.fill("#id_holdout_percent", "60")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#experiment")).to_contain_text("The holdout is 0 to 50 %")
    page.fill("#id_holdout_percent", "20")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#edit-variants")).to_be_visible()

    page.click("#edit-variants")
    for label, template, split in (("A", one, "60"), ("B", two, "40")):
        box = page.locator(f"#variant-{label}")
        box.locator(f"#id_{label}-use").check()
        box.locator(f"#id_{label}-template").select_option(str(template.pk))
        box.locator(f"#id_{label}-split").fill(split)
    page.click("#refresh-placeholders")
    page.locator("#id_A-map_value_1").fill("name")
    page.get_by_role("button", name="Save variants").click()
    summary = page.locator("#experiment-summary")
    expect(summary).to_contain_text("variant A")
    expect(summary).to_contain_text("60 %")
    expect(summary).to_contain_text("variant B")
    expect(summary).to_contain_text("holdout 20 %")
    assert [(v.label, v.split) for v in campaign.variants.all()] == [("A", 60), ("B", 40)]
