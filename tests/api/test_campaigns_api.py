"""Campaigns API: create drafts with checked references, stats, messages (read-only)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaigns import stats
from campaigns.models import Campaign
from campaigns.state import advance
from tests.api.factories import make_audience, make_campaign, make_message, make_provider, make_template

pytestmark = pytest.mark.django_db
URL = "/api/campaigns/"


def body(provider, template, audience_, **kw):
    data = {
        "name": "Diwali",
        "provider": provider.pk,
        "template": template.pk,
        "audience": audience_.pk,
        "placeholder_mapping": [{"source": "attribute", "value": "first_name"}],
        "schedule_timezone": "Asia/Kolkata",
    }
    data.update(kw)
    return data


def test_create_draft_and_edit_it(api, marketer):
    provider = make_provider()
    template, audience = make_template(provider), make_audience()
    response = api.post(URL, body(provider, template, audience), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "draft" and data["sent_count"] == 0
    campaign = Campaign.objects.get(pk=data["id"])
    assert campaign.created_by == marketer
    response = api.patch(f"{URL}{campaign.pk}/", {"name": "Diwali 2"}, format="json")
    assert response.status_code == 200 and Campaign.objects.get(pk=campaign.pk).name == "Diwali 2"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"schedule_timezone": "Mars/Base"}, "schedule_timezone"),
        ({"placeholder_mapping": []}, "placeholder_mapping"),
        ({"placeholder_mapping": [{"source": "guess", "value": "x"}]}, "placeholder_mapping"),
        ({"click_tracking": "sometimes"}, "click_tracking"),
        ({"dlt_template_id": "abc"}, "dlt_template_id"),
        ({"audience": 999999}, "audience"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_names_the_field(api, change, field):
    provider = make_provider()
    response = api.post(
        URL, body(provider, make_template(provider), make_audience(), **change), format="json"
    )
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Campaign.objects.exists()


def test_template_of_another_provider_and_inactive_provider(api):
    provider, other = make_provider(), make_provider(enabled=False)
    response = api.post(URL, body(provider, make_template(other), make_audience()), format="json")
    assert response.status_code == 400 and "template" in response.json()
    response = api.post(URL, body(other, make_template(other), make_audience()), format="json")
    assert response.status_code == 400 and "provider" in response.json()


def test_ours_and_provider_click_tracking_never_together(api):
    provider = make_provider(kind="jiocx", config={"click_tracking": "default"})
    response = api.post(
        URL, body(provider, make_template(provider), make_audience(), click_tracking="ours"), format="json"
    )
    assert response.status_code == 400 and "click_tracking" in response.json()


def test_sending_campaign_cannot_be_edited_or_deleted(api):
    campaign = make_campaign(status=Campaign.Status.SENDING)
    assert api.patch(f"{URL}{campaign.pk}/", {"name": "x"}, format="json").status_code == 400
    assert api.delete(f"{URL}{campaign.pk}/").status_code == 400
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_stats_endpoint_returns_funnel_and_series(api):
    campaign = make_campaign(total_count=1)
    message = make_message(campaign.provider, campaign)
    change = advance(message, channel="RCS", status="delivered", at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    message.save()
    Campaign.objects.filter(pk=campaign.pk).update(sent_count=1, delivered_rcs_count=1)
    stats.record([(message, change)])
    data = api.get(f"{URL}{campaign.pk}/stats/").json()
    assert data["funnel"]["delivered"] == 1 and data["funnel"]["delivery_rate"] == 1.0
    assert data["series"] == [
        {"hour": "2026-03-01T09:00:00Z", "sent": 1, "delivered": 1, "failed": 0, "clicked": 0}
    ]
    provider_data = api.get(f"/api/providers/{campaign.provider_id}/stats/?since=2026-03-01T00:00:00Z").json()
    assert provider_data["funnel"]["sent"] == 1
    assert api.get(f"/api/providers/{campaign.provider_id}/stats/?since=yesterday").status_code == 400
    assert api.get("/api/providers/999999/stats/").status_code == 404


def test_messages_are_read_only_and_filterable(api):
    campaign = make_campaign()
    m1 = make_message(campaign.provider, campaign, status="failed", error_code="2002")
    make_message(campaign.provider, None)
    data = api.get(f"/api/messages/?campaign={campaign.pk}").json()
    assert [row["msg_id"] for row in data["results"]] == [m1.msg_id]
    assert api.get("/api/messages/?status=failed").json()["count"] == 1
    assert api.get(f"/api/messages/{m1.pk}/").json()["error_code"] == "2002"
    assert api.post("/api/messages/", {}, format="json").status_code == 405
    assert api.delete(f"/api/messages/{m1.pk}/").status_code == 405


def test_lifecycle_through_the_engine_services(api, django_capture_on_commit_callbacks):
    from campaigns import tasks

    campaign = make_campaign(
        audience=make_audience(phones=["+919812345601", "+919812345602"]),
        placeholder_mapping=[{"source": "literal", "value": "friend"}],
    )
    url = f"{URL}{campaign.pk}"
    assert api.post(f"{url}/pause/").status_code == 409  # a draft is not sending
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(f"{url}/launch/")
    # The answer comes before the fan-out: a task, enqueued once the launch committed.
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "sending" and response.json()["total_count"] == 0
    assert callbacks
    tasks.fan_out(campaign.pk)  # what the task cluster runs
    campaign.refresh_from_db()
    assert campaign.total_count == 2 and campaign.fanned_out_at is not None
    assert api.post(f"{url}/launch/").json()["status"][0].startswith("Only a draft")
    assert api.post(f"{url}/pause/").json()["status"] == "paused"
    with django_capture_on_commit_callbacks():
        assert api.post(f"{url}/resume/").json()["status"] == "sending"
    response = api.post(f"{url}/cancel/")
    assert response.json()["status"] == "cancelled"
    assert api.post(f"{url}/cancel/").status_code == 409
    assert api.get(f"/api/messages/?campaign={campaign.pk}&status=cancelled").json()["count"] == 2


def test_launch_refuses_a_campaign_with_a_missing_placeholder(api):
    campaign = make_campaign(placeholder_mapping=[])
    response = api.post(f"{URL}{campaign.pk}/launch/")
    assert response.status_code == 409 and "{{1}}" in response.json()["status"][0]
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_send_rule_fields_are_stored_and_bad_ones_named(api):
    provider = make_provider()
    template, audience = make_template(provider), make_audience()
    rules = {
        "window_start": "09:00",
        "window_end": "21:00",
        "window_timezone": "Asia/Kolkata",
        "frequency_cap": 2,
        "frequency_period_hours": 24,
        "ttl_hours": 12,
    }
    response = api.post(URL, body(provider, template, audience, **rules), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["window_start"], data["window_end"], data["window_timezone"]) == (
        "09:00:00",
        "21:00:00",
        "Asia/Kolkata",
    )
    assert (data["send_rules"], data["frequency_cap"], data["ttl_hours"]) == ("category", 2, 12)
    assert (data["skipped_count"], data["expired_count"], data["waiting_for_window"]) == (0, 0, 0)
    for change, field in [
        ({"window_end": None, "window_start": "09:00"}, "window_end"),
        ({"window_timezone": "Mars/Base"}, "window_timezone"),
        ({"frequency_period_hours": 0}, "frequency_period_hours"),
        ({"send_until": "2020-01-01T00:00:00Z"}, "send_until"),
    ]:
        response = api.post(URL, body(provider, template, audience, **change), format="json")
        assert response.status_code == 400 and field in response.json(), (change, response.json())
