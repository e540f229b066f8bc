"""The estimate with send windows: when sending starts and ends, per the audience's timezones
(a controlled clock: time-machine)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.urls import reverse

from campaigns import sendrules
from campaigns.models import Audience, Campaign, Contact
from campaigns.services import Estimate, campaign_estimate

from .conftest import make_campaign, make_provider, make_template

pytestmark = pytest.mark.django_db

_names = itertools.count(1)
INDIA = [f"+9198123{i:05d}" for i in range(40)]  # Asia/Kolkata, UTC+05:30
LONDON = [f"+44207946{i:04d}" for i in range(30)]  # Europe/London, UTC+00:00 in December
NEW_YORK = [f"+1212736{i:04d}" for i in range(20)]  # America/New_York, UTC-05:00 in December
WINDOW = {"window_start": time(9), "window_end": time(21)}


@pytest.fixture(autouse=True)
def no_quiet_hours(settings):
    settings.RCS_QUIET_HOURS = ""


def audience_of(numbers, **attributes) -> Audience:
    audience = Audience.objects.create(name=f"Audience {next(_names)}")
    Contact.objects.bulk_create(
        [Contact(audience=audience, phone=n, attributes={"name": "Asha", **attributes}) for n in numbers]
    )
    return audience


def frozen(year=2026, month=12, day=3, hour=0, minute=0):
    return time_machine.travel(datetime(year, month, day, hour, minute, tzinfo=UTC), tick=False)


def test_launched_at_22_ist_with_a_9_to_21_window_it_starts_in_11_hours(db):
    provider = make_provider(max_rate=10)
    campaign = make_campaign(provider=provider, audience=audience_of(INDIA), **WINDOW)
    with frozen(hour=16, minute=30):  # 22:00 IST
        estimate = campaign_estimate(campaign=campaign)
    t = estimate.timing
    assert t.waits and t.wait == "11 h" and t.local == "09:00" and t.zone == "Asia/Calcutta"
    assert t.starts_at == datetime(2026, 12, 4, 3, 30, tzinfo=UTC)  # 09:00 IST
    assert t.ends_at == t.starts_at + timedelta(seconds=4)  # 40 at 10/s
    assert not t.scheduled


def test_three_timezones_give_the_first_opening_and_the_end(db):
    provider = make_provider(max_rate=1)
    audience = audience_of(INDIA + LONDON + NEW_YORK)
    campaign = make_campaign(provider=provider, audience=audience, **WINDOW)
    with frozen(hour=2):  # India 07:30, London 02:00, New York 21:00 the day before
        t = campaign_estimate(campaign=campaign).timing
    assert (t.zone, t.local, t.wait) == ("Asia/Calcutta", "09:00", "1 h 30 min")
    assert t.starts_at == datetime(2026, 12, 3, 3, 30, tzinfo=UTC)
    opens = [(o.zone, o.count, o.at.hour, o.local) for o in t.openings]
    assert opens == [
        ("Asia/Calcutta", 40, 3, "09:00"),
        ("Europe/London", 30, 9, "09:00"),
        ("America/New_York", 20, 14, "09:00"),
    ]
    # At 1/s each group is done long before the next opens: the end is New York's 09:00 + 20 s.
    assert t.ends_at == datetime(2026, 12, 3, 14, 0, 20, tzinfo=UTC)


def test_zones_open_at_once_share_the_rate(db):
    rules = sendrules.Rules(window=(time(9), time(21)))
    start = datetime(2026, 12, 3, 12, tzinfo=UTC)  # India 17:30, London 12:00: both open
    t = sendrules.timing(rules, {"Asia/Calcutta": 10_000, "Europe/London": 10_000}, 1, start)
    assert not t.waits and t.starts_at == start
    # India's window closes at 15:30 UTC, each having sent 12,600 / 2: London sends its 3,700 left
    # alone, India's 3,700 wait for 09:00 IST the next day.
    assert t.ends_at == datetime(2026, 12, 4, 3, 30, tzinfo=UTC) + timedelta(seconds=3_700)
    only_india = sendrules.timing(rules, {"Asia/Calcutta": 20_000}, 1, start)
    assert only_india.ends_at == datetime(2026, 12, 4, 3, 30, tzinfo=UTC) + timedelta(seconds=20_000 - 12_600)


def test_a_long_sending_is_extrapolated_by_whole_days():
    rules = sendrules.Rules(window=(time(9), time(21)), window_timezone="Europe/London")
    start = datetime(2026, 12, 3, 21, tzinfo=UTC)
    # 2,000,000 at 1/s over 12 h a day: 46 full windows (1,987,200) and 12,800 s of the 47th.
    t = sendrules.timing(rules, {"": 2_000_000}, 1, start)
    assert t.ends_at == datetime(2026, 12, 4, 9, tzinfo=UTC) + timedelta(days=46, seconds=12_800)


def test_a_scheduled_campaign_is_estimated_from_its_scheduled_time(db):
    provider = make_provider(max_rate=10)
    scheduled_at = datetime(2026, 12, 5, 16, 30, tzinfo=UTC)  # 22:00 IST two days later
    campaign = make_campaign(
        provider=provider, audience=audience_of(INDIA), scheduled_at=scheduled_at, **WINDOW
    )
    campaign.status = Campaign.Status.SCHEDULED
    campaign.save()
    with frozen(hour=10):
        t = campaign_estimate(campaign=campaign).timing
    assert t.scheduled and t.start == scheduled_at and t.wait == "11 h"
    assert t.starts_at == datetime(2026, 12, 6, 3, 30, tzinfo=UTC)


def test_quiet_hours_alone_and_a_timezone_attribute(db, settings):
    settings.RCS_QUIET_HOURS = "21:00-08:00"
    provider = make_provider(max_rate=10)
    audience = audience_of(INDIA[:5])
    audience_of(INDIA[5:10])  # another audience: not counted
    Contact.objects.create(audience=audience, phone="+919812399999", attributes={"timezone": "Asia/Tokyo"})
    Contact.objects.create(audience=audience, phone="+919812399998", subscribed=False)
    campaign = make_campaign(provider=provider, audience=audience)
    with frozen(hour=20):  # India 01:30, Tokyo 05:00
        estimate = campaign_estimate(campaign=campaign)
    assert (estimate.recipients, estimate.unsubscribed) == (6, 1)
    t = estimate.timing
    assert [(o.zone, o.count, o.local, o.wait) for o in t.openings] == [
        ("Asia/Tokyo", 1, "08:00", "3 h"),
        ("Asia/Calcutta", 5, "08:00", "6 h 30 min"),
    ]


def test_the_zones_are_counted_in_one_query(db, django_assert_num_queries):
    audience = audience_of(INDIA + LONDON + NEW_YORK)
    Contact.objects.filter(phone=INDIA[0]).update(subscribed=False)
    with django_assert_num_queries(1):
        zones, unsubscribed = sendrules.zone_counts(Contact.objects.filter(audience=audience))
    assert zones == {"Asia/Calcutta": 39, "Europe/London": 30, "America/New_York": 20}
    assert unsubscribed == 1


def test_without_a_window_the_estimate_is_unchanged(db, settings):
    provider = make_provider(max_rate=10)
    campaign = make_campaign(provider=provider, audience=audience_of(INDIA))
    with frozen(hour=16, minute=30):
        assert campaign_estimate(campaign=campaign) == Estimate(40, 0, 10, 4)
    transactional = make_template(provider, category="transactional")
    settings.RCS_QUIET_HOURS = "21:00-09:00"
    campaign = make_campaign(provider=provider, audience=audience_of(INDIA), template=transactional, **WINDOW)
    assert campaign_estimate(campaign=campaign).timing is None  # the rules do not apply to it


def test_the_builder_and_the_campaign_page_show_when_it_starts(marketer_client):
    provider = make_provider(max_rate=10)
    template = make_template(provider)
    audience = audience_of(INDIA)
    fields = {
        "provider": provider.pk,
        "template": template.pk,
        "audience": audience.pk,
        "window_start": "09:00",
        "window_end": "21:00",
        "send_rules": "category",
    }
    with frozen(hour=16, minute=30):
        page = marketer_client.get(reverse("campaigns:builder_live"), fields).content.decode()
        assert '<b class="starts">09:00 local time</b> in Asia/Calcutta' in page
        assert '<span class="starts-in">in 11 h</span>' in page
        assert 'class="ends-at"' in page
        del fields["window_start"], fields["window_end"]
        page = marketer_client.get(reverse("campaigns:builder_live"), fields).content.decode()
        assert "estimate-timing" not in page

        campaign = make_campaign(provider=provider, template=template, audience=audience, **WINDOW)
        page = marketer_client.get(campaign.get_absolute_url()).content.decode()
        assert '<span class="starts-in">in 11 h</span>' in page
        three = make_campaign(provider=provider, audience=audience_of(INDIA + LONDON + NEW_YORK), **WINDOW)
        page = marketer_client.get(three.get_absolute_url()).content.decode()
        assert '<b class="starts">at once</b> (the window is open in Europe/London)' in page
        assert 'data-zone="Asia/Calcutta">Asia/Calcutta: 40 from 09:00 local time (in 11 h)' in page


def test_the_polled_progress_card_leaves_the_timing_out(db, django_assert_num_queries):
    campaign = make_campaign(provider=make_provider(), audience=audience_of(INDIA), **WINDOW)
    campaign = Campaign.objects.select_related("provider", "template").get(pk=campaign.pk)
    with django_assert_num_queries(2):  # the two counts, no zone grouping
        estimate = campaign_estimate(campaign=campaign, timing=False)
    assert estimate.timing is None and estimate.window_days == 1 and estimate.recipients == 40
