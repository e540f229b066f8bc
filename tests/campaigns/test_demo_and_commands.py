"""Quick-start demo data and the lifecycle management commands."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from campaigns import demo
from campaigns.models import Audience, Campaign, Message

from .conftest import make_campaign, make_provider, make_template


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)


@pytest.mark.django_db
def test_demo_builds_an_audience_and_a_sending_campaign_once():
    provider = make_provider(nickname=demo.DEMO_PROVIDER, sms_fallback=True)
    make_template(provider, name=demo.DEMO_TEMPLATE, text="Hi {{1}}")
    out = io.StringIO()
    demo.load(simulator_url="http://127.0.0.1:8025", stdout=out)
    demo.load(simulator_url="http://127.0.0.1:8025", stdout=out)
    audience = Audience.objects.get(name=demo.DEMO_AUDIENCE)
    assert audience.contacts.count() == demo.DEMO_SIZE
    assert audience.contacts.filter(phone__endswith="0").count() == 20  # these fall back to SMS
    campaign = Campaign.objects.get(name=demo.DEMO_CAMPAIGN)
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.total_count == audience.contacts.filter(subscribed=True).count() < demo.DEMO_SIZE
    assert Message.objects.filter(campaign=campaign).count() == campaign.total_count
    assert "already there" in out.getvalue()


@pytest.mark.django_db
def test_demo_is_skipped_without_the_demo_provider():
    out = io.StringIO()
    demo.load(simulator_url="http://127.0.0.1:8025", stdout=out)
    assert "skipped" in out.getvalue()
    assert not Campaign.objects.exists()


@pytest.mark.django_db
def test_lifecycle_commands_wrap_the_services():
    campaign = make_campaign(size=3)
    out = io.StringIO()
    call_command("campaign_launch", str(campaign.pk), stdout=out)
    assert "Sending (3 messages)" in out.getvalue()
    call_command("campaign_pause", campaign.name, stdout=out)
    call_command("campaign_resume", str(campaign.pk), stdout=out)
    call_command("campaign_cancel", str(campaign.pk), stdout=out)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.CANCELLED and campaign.cancelled_count == 3
    with pytest.raises(CommandError, match="already Cancelled"):
        call_command("campaign_cancel", str(campaign.pk), stdout=out)
    with pytest.raises(CommandError, match="No single campaign"):
        call_command("campaign_pause", "nope", stdout=out)
