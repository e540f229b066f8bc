"""The home page: figures of today and the last 7 days, what is sending, provider health, the setup
checklist that ticks itself, and the API docs inside the site's page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import stats
from campaigns.home import setup_checklist
from campaigns.models import Campaign, Message
from providers.models import SendTest

from .conftest import make_audience, make_campaign, make_provider, make_template

pytestmark = pytest.mark.django_db


def _ticked() -> list[bool]:
    return [step.done for step in setup_checklist()]


def test_the_checklist_ticks_each_step_once_it_is_done():
    assert _ticked() == [False] * 5
    provider = make_provider()
    assert _ticked() == [True, False, False, False, False]
    SendTest.objects.create(provider=provider, msg_id="t-1", to="+919812345678", rcs_text="hi")
    assert _ticked()[1] is False  # queued, not yet sent
    SendTest.objects.filter(msg_id="t-1").update(state=SendTest.State.DONE)
    assert _ticked() == [True, True, False, False, False]
    template = make_template(provider)
    assert _ticked()[2] is True
    audience = make_audience(0)
    assert _ticked()[3] is False  # an audience without contacts is not imported yet
    audience = make_audience(3)
    assert _ticked() == [True, True, True, True, False]
    campaign = make_campaign(provider=provider, template=template, audience=audience)
    assert _ticked()[4] is False  # a draft
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    assert _ticked() == [True] * 5


def test_home_shows_figures_sending_campaigns_and_provider_health(marketer_client):
    provider = make_provider(nickname="Vendor A")
    provider.set_health(provider.Health.UNHEALTHY, "401: bad secret")
    campaign = make_campaign(provider=provider, size=4, name="Diwali sale")
    now = timezone.now()
    for i, sent_at in enumerate([now, now, now - timedelta(days=3), now - timedelta(days=20)]):
        Message.objects.create(
            provider=provider, campaign=campaign, to=f"+91981234567{i}", msg_id=f"m{i}", sent_at=sent_at
        )
    stats.rebuild()
    # After the rebuild (which recounts the campaign's counters from its messages, all queued here).
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SENDING, total_count=4, processed_count=1
    )

    page = marketer_client.get(reverse("home")).content.decode()
    today = page[page.index('id="figures-today"') : page.index('id="figures-week"')]
    week = page[page.index('id="figures-week"') : page.index('id="sending-now"')]
    # Today: two sends (unless this runs just after midnight, when "now" is still today for both).
    assert re.search(r"<b>2</b>sent", today), today
    assert re.search(r"<b>3</b>sent", week), week  # the one 20 days ago is outside the week
    sending = page[page.index('id="sending-now"') : page.index('id="provider-health"')]
    assert "Diwali sale" in sending and "25%" in sending
    health = page[page.index('id="provider-health"') :]
    assert "Vendor A" in health and "Unhealthy" in health and "401: bad secret" in health
    assert reverse("api:docs") in page
    assert 'id="setup-checklist"' not in page or 'data-done="false"' in page


def test_the_checklist_disappears_once_every_step_is_done(marketer_client):
    assert 'id="setup-checklist"' in marketer_client.get(reverse("home")).content.decode()
    provider = make_provider()
    SendTest.objects.create(provider=provider, msg_id="t-2", to="+919812345678", rcs_text="hi", state="done")
    campaign = make_campaign(provider=provider, size=2)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.COMPLETED)
    assert 'id="setup-checklist"' not in marketer_client.get(reverse("home")).content.decode()


def test_api_docs_keep_the_site_navigation(marketer_client):
    html = marketer_client.get(reverse("api:docs")).content.decode()
    assert 'class="mainnav"' in html and 'id="swagger-ui"' in html
    assert reverse("campaigns:list") in html and reverse("home") in html


def test_today_starts_at_midnight_in_the_users_timezone(marketer_client, marketer):
    """Tokyo is UTC+9: its today starts at 15:00 UTC, on the UTC day before or the same one. A bucket
    at local midnight counts and the hour before does not, whichever of the two it is."""
    from zoneinfo import ZoneInfo

    from campaigns.models import StatBucket
    from rcsconnect.models import Profile

    Profile.objects.update_or_create(user=marketer, defaults={"timezone": "Asia/Tokyo"})
    provider = make_provider()
    tokyo = ZoneInfo("Asia/Tokyo")
    midnight = timezone.now().astimezone(tokyo).replace(hour=0, minute=0, second=0, microsecond=0)
    StatBucket.objects.create(provider=provider, hour=midnight, sent=1)
    StatBucket.objects.create(provider=provider, hour=midnight - timedelta(hours=1), sent=10)
    page = marketer_client.get(reverse("home")).content.decode()
    today = page[page.index('id="figures-today"') : page.index('id="figures-week"')]
    assert re.search(r"<b>1</b>sent", today), today
    assert "since 00:00 Asia/Tokyo" in today
