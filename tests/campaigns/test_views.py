"""Audience and campaign pages: forms with errors next to fields, actions, live partials."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.models import Audience, AudienceImport, Campaign

from .conftest import make_audience, make_campaign, make_provider, make_template

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)


def test_create_audience_and_upload_a_csv(marketer_client, sync_tasks, django_capture_on_commit_callbacks):
    response = marketer_client.post(reverse("campaigns:audience_list"), {"name": "VIPs"})
    audience = Audience.objects.get(name="VIPs")
    assert response.url == audience.get_absolute_url()
    upload = SimpleUploadedFile("vips.csv", b"phone,first_name\n+919812345671,Asha\nnope,X\n", "text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(audience.get_absolute_url(), {"file": upload, "default_region": ""})
    job = AudienceImport.objects.get(audience=audience)
    assert (job.status, job.imported_count, job.invalid_count) == ("done", 1, 1)
    page = marketer_client.get(audience.get_absolute_url()).content.decode()
    assert "+919812345671" in page and "download the 1 rejected rows" in page
    report = marketer_client.get(reverse("campaigns:import_report", args=[job.pk]))
    assert b"nope" in b"".join(report.streaming_content)
    partial = marketer_client.get(reverse("campaigns:import_progress", args=[job.pk])).content.decode()
    assert "hx-trigger" not in partial  # finished: polling stops


def test_upload_without_a_file_shows_the_error_next_to_the_field(marketer_client):
    audience = make_audience(0)
    response = marketer_client.post(audience.get_absolute_url(), {})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()


def test_builder_preselects_the_default_provider_and_maps_placeholders(marketer_client):
    provider = make_provider(is_default=True)
    template = make_template(provider)
    audience = make_audience(3)
    page = marketer_client.get(reverse("campaigns:create")).content.decode()
    assert f'<option value="{provider.pk}" selected>' in page
    mapping = marketer_client.get(reverse("campaigns:mapping"), {"template": template.pk}).content.decode()
    assert 'name="map_source_1"' in mapping and 'name="map_value_2"' in mapping
    data = {
        "name": "Spring",
        "provider": provider.pk,
        "template": template.pk,
        "audience": audience.pk,
        "map_source_1": "attribute",
        "map_value_1": "name",
        "map_source_2": "literal",
        "map_value_2": "",
        "click_tracking": "off",
        "schedule": "now",
        "schedule_timezone": "UTC",
    }
    response = marketer_client.post(reverse("campaigns:create"), data)
    assert "Give the text for {{2}}" in response.content.decode()
    data["map_value_2"] = "SPRING10"
    response = marketer_client.post(reverse("campaigns:create"), data)
    campaign = Campaign.objects.get(name="Spring")
    assert response.url == campaign.get_absolute_url()
    assert campaign.placeholder_mapping == [
        {"source": "attribute", "value": "name"},
        {"source": "literal", "value": "SPRING10"},
    ]
    detail = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert "3</b> recipients" in detail


def test_builder_checks_sms_dlt_schedule_and_click_tracking(marketer_client):
    # A kind that tracks clicks itself (ProviderKind.tracks_clicks): JioCX with its tracking on.
    provider = make_provider(
        kind="jiocx",
        sms_fallback=True,
        india=True,
        config={"base_url": "https://jio.example", "click_tracking": "default"},
    )
    template = make_template(provider, text="Hi")
    data = {
        "name": "X",
        "provider": provider.pk,
        "template": template.pk,
        "audience": make_audience(1).pk,
        "sms_fallback_text": "Hi there",
        "click_tracking": "ours",
        "schedule": "later",
        "scheduled_local": "2001-01-01T10:00",
        "schedule_timezone": "Asia/Kolkata",
    }
    page = marketer_client.post(reverse("campaigns:create"), data).content.decode()
    assert "India requires the DLT template ID" in page
    assert "never both" in page
    assert "This time is in the past" in page
    data.update(dlt_template_id="1107", click_tracking="provider", scheduled_local="2099-01-01T10:00")
    response = marketer_client.post(reverse("campaigns:create"), data)
    assert response.status_code == 302
    campaign = Campaign.objects.get(name="X")
    assert campaign.scheduled_at.isoformat() == "2099-01-01T04:30:00+00:00"


def test_segments_partial_counts_gsm_and_ucs2(marketer_client):
    url = reverse("campaigns:segments")
    assert (
        "1 SMS segment · GSM-7" in marketer_client.get(url, {"sms_fallback_text": "Hello"}).content.decode()
    )
    assert "UCS-2" in marketer_client.get(url, {"sms_fallback_text": "नमस्ते"}).content.decode()
    assert (
        "3 SMS segments · GSM-7"
        in marketer_client.get(url, {"sms_fallback_text": "a" * 307}).content.decode()
    )


def test_actions_and_locked_content(marketer_client):
    campaign = make_campaign(size=2)
    marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "launch"]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    response = marketer_client.get(reverse("campaigns:edit", args=[campaign.pk]))
    assert response.status_code == 302  # content locked once sending starts
    progress = marketer_client.get(reverse("campaigns:progress", args=[campaign.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in progress and 'name="pause"' in progress
    marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "pause"]))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED
    response = marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "pause"]), follow=True)
    assert "Only a sending campaign can be paused" in response.content.decode()


def test_campaign_page_says_why_and_until_when_its_provider_is_paused(marketer_client, settings):
    from campaigns.engine.limiter import get_limiter

    settings.REDIS_URL = ""
    campaign = make_campaign(size=2)
    marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "launch"]))
    detail_url, progress_url = campaign.get_absolute_url(), reverse("campaigns:progress", args=[campaign.pk])
    assert 'id="provider-paused"' not in marketer_client.get(progress_url).content.decode()

    campaign.provider.set_health(campaign.provider.Health.UNHEALTHY, "401: invalid client secret")
    get_limiter().pause(campaign.provider.pk, 30)
    for url in (detail_url, progress_url):
        page = marketer_client.get(url).content.decode()
        assert 'id="provider-paused"' in page and "401: invalid client secret" in page
        assert "is paused until" in page and re.search(r"\((29|30) s from now\)", page)

    get_limiter().reset(campaign.provider.pk)
    assert 'id="provider-paused"' not in marketer_client.get(progress_url).content.decode()


def test_a_draft_shows_the_estimate_and_launch_asks_naming_the_recipient_count(marketer_client):
    campaign = make_campaign(size=3, name="Spring")
    page = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert '<b class="c-total">3</b>recipients' in page
    assert "3 recipients when launched (estimate)" in page
    assert 'data-confirm="Launch Spring to 3 recipients now?"' in page  # app.js asks (no inline handler)
    marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "launch"]))
    page = marketer_client.get(reverse("campaigns:progress", args=[campaign.pk])).content.decode()
    assert "when launched (estimate)" not in page and "confirm(" not in page.split("cancel")[0]


def test_the_poll_that_sees_an_import_finish_refreshes_counters_and_contacts(
    marketer_client, sync_tasks, django_capture_on_commit_callbacks
):
    audience = make_audience(0)
    upload = SimpleUploadedFile("a.csv", b"phone\n+919812345671\n+919812345672\n", "text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        marketer_client.post(audience.get_absolute_url(), {"file": upload, "default_region": ""})
    url = reverse("campaigns:import_progress", args=[AudienceImport.objects.get(audience=audience).pk])
    polled = marketer_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="audience-counts" hx-swap-oob="true"' in polled and '<b id="contact-total">2</b>' in polled
    assert 'id="audience-contacts" hx-swap-oob="true"' in polled and "+919812345672" in polled
    assert "hx-swap-oob" not in marketer_client.get(url).content.decode()  # not an htmx poll


def test_launching_a_scheduled_draft_asks_naming_the_start_time_in_the_users_timezone(
    marketer_client, marketer
):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    from rcsconnect.models import Profile

    Profile.objects.update_or_create(user=marketer, defaults={"timezone": "Asia/Kolkata"})
    day = (timezone.now() + timedelta(days=30)).astimezone(ZoneInfo("Asia/Kolkata"))
    start = day.replace(hour=10, minute=0, second=0, microsecond=0)
    campaign = make_campaign(size=3, name="Spring", scheduled_at=start, schedule_timezone="Europe/London")
    page = marketer_client.get(campaign.get_absolute_url()).content.decode()
    when = start.strftime("%Y-%m-%d")
    assert (
        f'data-confirm="Schedule Spring to 3 recipients for {when} 10:00 Asia/Kolkata (your timezone)?"'
        in page
    )
    Campaign.objects.filter(pk=campaign.pk).update(scheduled_at=timezone.now() - timedelta(minutes=1))
    page = marketer_client.get(campaign.get_absolute_url()).content.decode()
    assert 'data-confirm="Launch Spring to 3 recipients now?"' in page  # its time has passed: it sends now
