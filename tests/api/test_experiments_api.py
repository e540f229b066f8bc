"""A/B campaigns over the API: variants, holdout and test-then-winner fields, 400s naming the
problem, per-variant results in the stats, the variant on messages and conversions, all in the
OpenAPI schema."""

from __future__ import annotations

import pytest

from campaigns.models import Campaign
from tests.api.factories import make_audience, make_provider, make_template

pytestmark = pytest.mark.django_db
URL = "/api/campaigns/"


def _body(provider, audience, *variants, **kw):
    template = make_template(provider)
    data = {
        "name": "Spring sale",
        "provider": provider.pk,
        "template": template.pk,
        "audience": audience.pk,
        "placeholder_mapping": [{"source": "attribute", "value": "first_name"}],
        "holdout_percent": 10,
        "variants": [
            {
                "label": label,
                "template": template.pk,
                "placeholder_mapping": [{"source": "literal", "value": label}],
                "split": split,
            }
            for label, split in variants
        ],
    }
    data.update(kw)
    return data


def test_create_an_ab_campaign_and_read_its_results(api):
    provider, audience = make_provider(), make_audience()
    body = _body(provider, audience, ("A", 50), ("B", 50), test_percent=20, winner_metric="reply_rate")
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert [(v["label"], v["split"]) for v in data["variants"]] == [("A", 50), ("B", 50)]
    assert (data["holdout_percent"], data["test_percent"], data["winner_metric"]) == (10, 20, "reply_rate")
    campaign = Campaign.objects.get(pk=data["id"])
    assert campaign.variants.count() == 2
    stats = api.get(f"{URL}{campaign.pk}/stats/").json()
    assert [v["variant"] for v in stats["experiment"]["variants"]] == ["A", "B"]
    assert stats["experiment"]["holdout"]["variant"] == "holdout"
    assert stats["experiment"]["tests"][0]["test"] == "two-proportion z-test"
    # Editing without variants keeps them; an empty list removes them.
    assert api.patch(f"{URL}{campaign.pk}/", {"name": "x"}, format="json").status_code == 200
    assert campaign.variants.count() == 2
    patched = api.patch(f"{URL}{campaign.pk}/", {"variants": [], "test_percent": 0}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json()["variants"] == [] and campaign.variants.count() == 0
    assert api.get(URL).json()["results"][0]["variants"] == []


@pytest.mark.parametrize(
    ("variants", "extra", "field", "words"),
    [
        ((("A", 60), ("B", 60)), {}, "variants", "add up to 120 %"),
        ((("A", 50), ("C", 50)), {}, "variants", "labelled A, B"),
        ((("A", 100),), {}, "variants", "less than or equal to 99"),
        ((("A", 40),), {}, "variants", "2 to 4 variants"),
        ((), {"test_percent": 30}, "test_percent", "at least two variants"),
        ((("A", 50), ("B", 50)), {"holdout_percent": 70}, "holdout_percent", "0 to 50"),
    ],
)
def test_bad_experiments_are_refused_naming_the_problem(api, variants, extra, field, words):
    provider, audience = make_provider(), make_audience()
    response = api.post(URL, _body(provider, audience, *variants, **extra), format="json")
    assert response.status_code == 400
    problems = response.json()
    flat = str(problems)
    assert field in flat and words in flat, problems
    assert not Campaign.objects.exists()


def test_the_schema_describes_experiments(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    assert "variants" in components["Campaign"]["properties"]
    assert "holdout_percent" in components["Campaign"]["properties"]
    assert {"variants", "holdout", "tests", "lift", "winner"} <= set(components["Experiment"]["properties"])
    assert "variant" in components["Conversion"]["properties"]
