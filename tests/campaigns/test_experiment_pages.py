"""The A/B surfaces: the variants page (errors beside their fields, nothing saved), the builder's
experiment fields, the launch check, and the results section of the campaign's stats page."""

from __future__ import annotations

import pytest

from campaigns.models import Variant
from campaigns.services import campaign_check

from .conftest import make_campaign, make_template

pytestmark = pytest.mark.django_db


def _post(campaign, **variants):
    data = {}
    for label, (template, split, values) in variants.items():
        data |= {f"{label}-use": "on", f"{label}-template": template.pk, f"{label}-split": split}
        for n, value in enumerate(values, start=1):
            data |= {f"{label}-map_source_{n}": "literal", f"{label}-map_value_{n}": value}
    return data


def test_variants_page_saves_valid_variants_and_refuses_bad_ones(marketer_client):
    campaign = make_campaign(size=5, holdout_percent=10)
    one = make_template(campaign.provider, text="One {{1}}")
    two = make_template(campaign.provider, text="Two")
    url = f"/campaigns/{campaign.pk}/variants/"
    page = marketer_client.get(url)
    assert page.status_code == 200 and "Variant D" in page.content.decode()

    bad = marketer_client.post(url, _post(campaign, A=(one, 60, [""]), B=(two, 60, [])))
    html = bad.content.decode()
    assert bad.status_code == 200 and not Variant.objects.exists()
    assert "add up to 120 %" in html and "Give the text for {{1}}." in html

    refreshed = marketer_client.post(
        url, {**_post(campaign, A=(one, 60, []), B=(two, 60, [])), "refresh": "1"}
    )
    assert 'name="A-map_value_1"' in refreshed.content.decode() and not Variant.objects.exists()
    assert "errorlist" not in refreshed.content.decode()

    single = marketer_client.post(url, _post(campaign, A=(one, 50, ["x"])))
    assert "at least two variants" in single.content.decode() and not Variant.objects.exists()

    ok = marketer_client.post(url, _post(campaign, A=(one, 70, ["hi"]), B=(two, 30, [])))
    assert ok.status_code == 302
    saved = {v.label: (v.template_id, v.split, v.placeholder_mapping) for v in campaign.variants.all()}
    assert saved == {"A": (one.pk, 70, [{"source": "literal", "value": "hi"}]), "B": (two.pk, 30, [])}
    assert "variant A" in marketer_client.get(f"/campaigns/{campaign.pk}/").content.decode()


def test_launch_check_names_experiment_problems():
    campaign = make_campaign(size=5, test_percent=20)
    assert any("at least two variants" in p for p in campaign_check(campaign))
    other = make_template(make_campaign(size=1).provider)
    Variant.objects.create(campaign=campaign, label="A", template=campaign.template, split=50)
    Variant.objects.create(campaign=campaign, label="B", template=other, split=40)
    problems = " ".join(campaign_check(campaign))
    assert "add up to 90 %" in problems and "belongs to" in problems


def test_builder_refuses_a_holdout_over_half(marketer_client):
    campaign = make_campaign(size=5)
    form = marketer_client.get(f"/campaigns/{campaign.pk}/edit/")
    assert 'name="holdout_percent"' in form.content.decode()
    data = {
        "name": campaign.name,
        "provider": campaign.provider_id,
        "template": campaign.template_id,
        "audience": campaign.audience_id,
        "click_tracking": "off",
        "schedule": "now",
        "schedule_timezone": "UTC",
        "map_source_1": "attribute",
        "map_value_1": "name",
        "map_source_2": "literal",
        "map_value_2": "42",
        "holdout_percent": 60,
    }
    response = marketer_client.post(f"/campaigns/{campaign.pk}/edit/", data)
    assert response.status_code == 200 and "The holdout is 0 to 50 %" in response.content.decode()
    data["holdout_percent"] = 15
    assert marketer_client.post(f"/campaigns/{campaign.pk}/edit/", data).status_code == 302
    campaign.refresh_from_db()
    assert campaign.holdout_percent == 15


def test_admin_shows_variants_and_results(admin_client):
    campaign = make_campaign(size=5, holdout_percent=10)
    Variant.objects.create(campaign=campaign, label="A", template=campaign.template, split=50)
    Variant.objects.create(campaign=campaign, label="B", template=campaign.template, split=50)
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "A/B results" in html and "holdout: 0 contacts" in html and 'name="variants-0-split"' in html
    assert admin_client.get("/admin/campaigns/message/?variant=A").status_code == 200
    assert admin_client.get("/admin/campaigns/conversion/?variant=holdout").status_code == 200


def test_the_estimate_leaves_the_holdout_out():
    from campaigns.services import campaign_estimate

    campaign = make_campaign(size=40, holdout_percent=25)
    estimate = campaign_estimate(campaign=campaign)
    assert (estimate.recipients, estimate.holdout) == (30, 10)
