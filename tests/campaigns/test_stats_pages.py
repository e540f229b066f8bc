"""Stats pages: funnel, rates, errors and the inline SVG chart, with a bounded number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from tests.api.factories import make_campaign, make_message, make_provider
from tests.campaigns.test_stats import apply

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_campaign():
    campaign = make_campaign(total_count=3, status=Campaign.Status.COMPLETED)
    now = timezone.now() - timedelta(hours=2)
    a, b, c = (make_message(campaign.provider, campaign, sms_fallback=True) for _ in range(3))
    apply(a, "RCS", "sent", now)
    apply(a, "RCS", "clicked", now + timedelta(hours=1))
    apply(b, "RCS", "sent", now)
    apply(b, "RCS", "failed", now, "1001")
    apply(b, "SMS", "delivered", now)
    apply(c, "", "failed", now, "2002")
    campaign.refresh_from_db()
    return campaign


def test_campaign_stats_page(marketer_client, finished_campaign, django_assert_max_num_queries):
    with django_assert_max_num_queries(14):  # 12, the aggregate over the conversions, the variants lookup
        response = marketer_client.get(f"/stats/campaigns/{finished_campaign.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        'id="f-sent">2<' in html and 'id="f-delivered-rcs">1<' in html and 'id="f-delivered-sms">1<' in html
    )
    assert 'id="f-clicked">1<' in html and 'id="f-failed">1<' in html
    assert (
        'id="r-delivery">100.0%<' in html and 'id="r-ctr">50.0%<' in html and 'id="r-fallback">50.0%<' in html
    )
    assert "<code>2002</code>" in html
    assert "<svg" in html and html.count("<polyline") == 4
    assert "cdn" not in html.lower() and '<script src="http' not in html


def test_provider_stats_and_overview(marketer_client, finished_campaign, django_assert_max_num_queries):
    provider = finished_campaign.provider
    for window in ("24h", "7d", "30d", "bogus"):
        response = marketer_client.get(f"/stats/providers/{provider.pk}/?window={window}")
        assert response.status_code == 200
        assert 'id="f-sent">2<' in response.content.decode()
    make_provider()
    with django_assert_max_num_queries(20):
        response = marketer_client.get("/stats/")
    html = response.content.decode()
    assert response.status_code == 200 and finished_campaign.name in html and provider.nickname in html
    assert "<svg" in html


def test_empty_campaign_has_no_chart_and_dashes(marketer_client):
    campaign = make_campaign()
    html = marketer_client.get(f"/stats/campaigns/{campaign.pk}/").content.decode()
    assert "No activity to chart yet" in html and 'id="r-delivery">–<' in html


def test_unknown_ids_are_404(marketer_client):
    assert marketer_client.get("/stats/campaigns/999999/").status_code == 404
    assert marketer_client.get("/stats/providers/999999/").status_code == 404
