"""Send rules with a controlled clock (time-machine): windows in each contact's timezone, quiet hours,
frequency caps, expiry, opt-outs. The engine sends to the vendor simulator over loopback HTTP; tasks
run inline (`sync_tasks`), the tick is called as the schedule would call it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine

from campaigns import sendrules, stats
from campaigns.engine.limiter import get_limiter
from campaigns.models import Audience, Campaign, Contact, FrequencyRecord, Message, MessageStatus
from campaigns.services import CampaignError, campaign_launch, dispatch_run, engine_tick, transactional_send
from templates_app.models import MessageTemplate

from .conftest import make_campaign, make_provider, make_template

pytestmark = pytest.mark.django_db(transaction=True)

_names = itertools.count(1)
INDIA = [f"+9198123450{i:02d}" for i in range(4)]  # Asia/Kolkata, UTC+05:30
LONDON = [f"+4420794600{i:02d}" for i in range(3)]  # Europe/London, UTC+00:00 in December
NEW_YORK = [f"+1212736500{i}" for i in range(2)]  # America/New_York, UTC-05:00 in December


@pytest.fixture
def sim(simulator, settings, sync_tasks):
    simulator.configure(callbacks=False)
    settings.RCS_DISPATCH_BUDGET_SECONDS = 30
    settings.RCS_QUIET_HOURS = ""
    settings.RCS_FREQUENCY_CAP = 0
    return simulator


def provider_for(sim):
    provider = make_provider(url=f"{sim.url}/generic/messages", concurrency=5, max_rate=1000)
    get_limiter().reset(provider.pk)
    return provider


def audience_of(numbers, **attributes) -> Audience:
    audience = Audience.objects.create(name=f"Audience {next(_names)}")
    Contact.objects.bulk_create(
        [Contact(audience=audience, phone=n, attributes={"name": "Asha", **attributes}) for n in numbers]
    )
    return audience


def statuses(campaign) -> dict[str, str]:
    return dict(Message.objects.filter(campaign=campaign).values_list("to", "status"))


def at(hour: int, minute: int = 0, day: int = 3):
    """The clock moved to this UTC time (ticking on from there)."""
    return time_machine.travel(datetime(2026, 12, day, hour, minute, tzinfo=UTC), tick=True)


def run(provider) -> None:
    engine_tick()
    dispatch_run(provider_id=provider.pk, budget=10)


def test_contact_timezone_attribute_then_number_then_workspace_default(settings):
    settings.RCS_DEFAULT_TIMEZONE = "Europe/Moscow"
    assert sendrules.contact_timezone("+919812345678", {"timezone": "America/Chicago"}) == "America/Chicago"
    assert sendrules.contact_timezone("+919812345678", {"timezone": "Mars/Base"}) == "Asia/Calcutta"
    assert sendrules.contact_timezone("+12127365000") == "America/New_York"
    assert sendrules.contact_timezone("+79161234567") == "Europe/Moscow"  # Russia spans many zones


def test_next_opening_across_midnight_and_quiet_hours():
    rules = sendrules.Rules(window=(time(9), time(21)))
    now = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # 21:30 in India
    assert rules.next_opening(now, INDIA[0]) == datetime(2026, 12, 4, 3, 30, tzinfo=UTC)
    assert rules.next_opening(now, LONDON[0]) is None  # 16:00 in London
    quiet = sendrules.Rules(window=(time(8), time(22)), quiet=(time(21), time(9)))
    assert quiet.next_opening(datetime(2026, 12, 3, 7, 0, tzinfo=UTC), LONDON[0]) == datetime(
        2026, 12, 3, 9, 0, tzinfo=UTC
    )


def test_a_campaign_across_three_timezones_releases_each_group_at_its_local_nine(sim):
    provider = provider_for(sim)
    audience = audience_of(INDIA + LONDON + NEW_YORK)
    campaign = make_campaign(provider=provider, audience=audience, window_start=time(9), window_end=time(21))
    with at(2, 30):  # India 08:00, London 02:30, New York 21:30 the day before: all outside
        campaign = campaign_launch(campaign_id=campaign.pk)
        assert set(statuses(campaign).values()) == {MessageStatus.WAITING}
        waiting = sendrules.waiting_for_window(campaign)
        assert (waiting.count, waiting.local) == (9, "09:00")
        assert waiting.until == datetime(2026, 12, 3, 3, 30, tzinfo=UTC)
        assert stats.campaign_funnel_counters(Campaign.objects.get(pk=campaign.pk)).waiting == 9
    with at(3, 29):
        run(provider)
        assert MessageStatus.SENT not in statuses(campaign).values()
    with at(3, 31):  # 09:01 in India
        run(provider)
        sent = {to for to, s in statuses(campaign).items() if s == MessageStatus.SENT}
        assert sent == set(INDIA)
    with at(9, 1):  # 09:01 in London
        run(provider)
        sent = {to for to, s in statuses(campaign).items() if s == MessageStatus.SENT}
        assert sent == set(INDIA + LONDON)
    with at(14, 1):  # 09:01 in New York
        run(provider)
    campaign.refresh_from_db()
    assert set(statuses(campaign).values()) == {MessageStatus.SENT}
    assert campaign.status == Campaign.Status.COMPLETED
    assert (campaign.sent_count, campaign.processed_count) == (9, 9)
    assert sim.stats(provider.sender_id)["unique_msg_ids"] == 9
    assert sim.stats(provider.sender_id)["duplicate_msg_ids"] == 0


def test_a_contact_timezone_attribute_wins_and_a_fixed_window_timezone_wins_over_both(sim):
    provider = provider_for(sim)
    by_attribute = make_campaign(
        provider=provider,
        audience=audience_of(INDIA[:2], timezone="America/New_York"),
        window_start=time(9),
        window_end=time(21),
    )
    fixed = make_campaign(
        provider=provider,
        audience=audience_of(LONDON[:2]),
        window_start=time(9),
        window_end=time(21),
        window_timezone="Asia/Kolkata",
    )
    with at(4, 0):  # India 09:30, New York 23:00 the day before, London 04:00
        campaign_launch(campaign_id=by_attribute.pk)
        campaign_launch(campaign_id=fixed.pk)
        assert set(statuses(by_attribute).values()) == {MessageStatus.WAITING}
        assert set(statuses(fixed).values()) == {MessageStatus.SENT}


def test_quiet_hours_hold_for_marketing_but_not_for_a_transactional_template(sim, settings):
    settings.RCS_QUIET_HOURS = "21:00-09:00"
    provider = provider_for(sim)
    marketing = make_campaign(provider=provider, audience=audience_of(INDIA))
    transactional = make_campaign(
        provider=provider,
        audience=audience_of(LONDON),
        template=make_template(provider, category=MessageTemplate.Category.TRANSACTIONAL),
    )
    forced_off = make_campaign(
        provider=provider, audience=audience_of(NEW_YORK), send_rules=Campaign.Rules.OFF
    )
    with at(16, 30):  # 22:00 in India, 16:30 in London, 11:30 in New York
        for campaign in (marketing, transactional, forced_off):
            campaign_launch(campaign_id=campaign.pk)
        assert set(statuses(marketing).values()) == {MessageStatus.WAITING}
        assert set(statuses(transactional).values()) == {MessageStatus.SENT}
        assert set(statuses(forced_off).values()) == {MessageStatus.SENT}
    with at(3, 0, day=4):  # 08:30 in India: still quiet
        run(provider)
        assert set(statuses(marketing).values()) == {MessageStatus.WAITING}
    with at(3, 31, day=4):
        run(provider)
        assert set(statuses(marketing).values()) == {MessageStatus.SENT}


def test_expiry_ends_the_unsent_messages(sim):
    provider = provider_for(sim)
    campaign = make_campaign(
        provider=provider,
        audience=audience_of(INDIA + LONDON),
        window_start=time(9),
        window_end=time(21),
        ttl_hours=2,
    )
    with at(2, 30):  # India opens at 03:30, London at 09:00; the campaign expires at 04:30
        campaign = campaign_launch(campaign_id=campaign.pk)
        assert campaign.expires_at - campaign.started_at == timedelta(hours=2)
    with at(3, 31):
        run(provider)
    with at(4, 31):
        run(provider)
    campaign.refresh_from_db()
    by_number = statuses(campaign)
    assert {by_number[n] for n in INDIA} == {MessageStatus.SENT}
    assert {by_number[n] for n in LONDON} == {MessageStatus.EXPIRED}
    assert campaign.status == Campaign.Status.COMPLETED
    assert (campaign.sent_count, campaign.expired_count, campaign.processed_count) == (4, 3, 7)
    assert sim.stats(provider.sender_id)["unique_msg_ids"] == 4


def test_a_message_claimed_after_the_do_not_send_after_time_expires(sim, monkeypatch):
    import campaigns.services as services

    provider = provider_for(sim)
    campaign = make_campaign(
        provider=provider, audience=audience_of(INDIA), send_until=datetime(2026, 12, 3, 4, tzinfo=UTC)
    )
    monkeypatch.setattr(services, "provider_kick", lambda **kw: 0)  # nothing sends before 04:00
    with at(3, 0):
        campaign = campaign_launch(campaign_id=campaign.pk)
        assert campaign.expires_at == datetime(2026, 12, 3, 4, tzinfo=UTC)
    with at(4, 1):  # the claim comes first (no tick ran): it expires what it claimed
        dispatch_run(provider_id=provider.pk, budget=10)
    campaign.refresh_from_db()
    assert set(statuses(campaign).values()) == {MessageStatus.EXPIRED}
    assert (campaign.expired_count, campaign.sent_count, campaign.status) == (4, 0, Campaign.Status.COMPLETED)
    assert sim.stats(provider.sender_id)["accepted"] == 0


def test_a_do_not_send_after_time_in_the_past_is_refused_at_launch(db):
    campaign = make_campaign(send_until=datetime(2020, 1, 1, tzinfo=UTC))
    with pytest.raises(CampaignError, match="This time has passed"):
        campaign_launch(campaign_id=campaign.pk)


def test_frequency_cap_across_campaigns_and_the_per_campaign_override(sim, settings):
    settings.RCS_FREQUENCY_CAP = 1
    settings.RCS_FREQUENCY_PERIOD_HOURS = 24
    provider = provider_for(sim)
    first = make_campaign(provider=provider, audience=audience_of(INDIA))
    second = make_campaign(provider=provider, audience=audience_of(INDIA))
    uncapped = make_campaign(provider=provider, audience=audience_of(INDIA[:2]), frequency_cap=0)
    with at(10, 0):
        first = campaign_launch(campaign_id=first.pk)
        second = campaign_launch(campaign_id=second.pk)
        uncapped = campaign_launch(campaign_id=uncapped.pk)
    assert set(statuses(first).values()) == {MessageStatus.SENT}
    assert set(statuses(second).values()) == {MessageStatus.SKIPPED}
    assert set(Message.objects.filter(campaign=second).values_list("error_code", flat=True)) == {
        "frequency_cap"
    }
    assert (second.skipped_count, second.processed_count, second.sent_count) == (4, 4, 0)
    assert second.status == Campaign.Status.COMPLETED
    assert set(statuses(uncapped).values()) == {MessageStatus.SENT}
    assert FrequencyRecord.objects.count() == 4
    third = make_campaign(provider=provider, audience=audience_of(INDIA[:1]))
    with at(10, 1, day=4):  # the rolling period has passed
        third = campaign_launch(campaign_id=third.pk)
    assert set(statuses(third).values()) == {MessageStatus.SENT}


def test_opt_outs_skip_marketing_sends_transactional_api_included(sim, monkeypatch):
    provider = provider_for(sim)
    audience = audience_of(INDIA)
    campaign = make_campaign(provider=provider, audience=audience)
    Contact.objects.filter(phone=INDIA[0]).update(subscribed=False)
    marketing = make_template(provider, text="Sale today")
    receipt = make_template(provider, text="Receipt", category=MessageTemplate.Category.TRANSACTIONAL)
    with pytest.raises(CampaignError, match="opted out"):
        transactional_send(provider=provider, template=marketing, to=INDIA[0], values=[])
    transactional_send(provider=provider, template=receipt, to=INDIA[0], values=[])
    # A contact who unsubscribes (or replies STOP) after the fan-out is skipped at the claim; the
    # fan-out itself leaves out those unsubscribed before it.
    import campaigns.services as services

    monkeypatch.setattr(services, "provider_kick", lambda **kw: 0)
    services.campaign_start(campaign_id=campaign.pk)
    Contact.objects.filter(phone=INDIA[1]).update(subscribed=False)
    dispatch_run(provider_id=provider.pk, budget=10)
    campaign.refresh_from_db()
    skipped = Message.objects.get(campaign=campaign, to=INDIA[1])
    assert (skipped.status, skipped.error_code) == (MessageStatus.SKIPPED, "opted_out")
    assert (campaign.sent_count, campaign.skipped_count, campaign.total_count) == (2, 1, 3)


def test_rebuild_stats_agrees_with_the_counters_after_rules(sim, settings):
    settings.RCS_FREQUENCY_CAP = 1
    provider = provider_for(sim)
    first = make_campaign(provider=provider, audience=audience_of(INDIA))
    second = make_campaign(provider=provider, audience=audience_of(INDIA), ttl_hours=1)
    with at(10, 0):
        campaign_launch(campaign_id=first.pk)
        campaign_launch(campaign_id=second.pk)
    before = list(Campaign.objects.order_by("id").values())
    stats.rebuild()
    assert list(Campaign.objects.order_by("id").values()) == before


def test_the_estimate_accounts_for_the_window(db):
    from campaigns.services import campaign_estimate

    provider = make_provider(max_rate=1)
    audience = audience_of([f"+9198123{i:05d}" for i in range(150)])
    campaign = make_campaign(
        provider=provider, audience=audience, window_start=time(9), window_end=time(9, 1)
    )
    estimate = campaign_estimate(campaign=campaign)
    assert estimate.seconds == 150
    assert estimate.window_days == 3  # a minute of window a day at 1/s
    no_window = make_campaign(provider=provider, audience=audience)
    assert campaign_estimate(campaign=no_window).window_days == 0


def test_expired_records_are_forgotten_by_the_tick(db):
    provider = make_provider()
    campaign = make_campaign(provider=provider, audience=audience_of(INDIA[:1]))
    message = Message.objects.create(provider=provider, campaign=campaign, to=INDIA[0], msg_id="x-1")
    FrequencyRecord.objects.create(to=INDIA[0], message=message, at=datetime.now(UTC) - timedelta(days=3))
    engine_tick()
    assert not FrequencyRecord.objects.exists()


@pytest.mark.parametrize("cap", [1, 2])
def test_check_and_record_counts_a_batch_and_a_message_claimed_again_once(db, cap):
    provider = make_provider()
    campaign = make_campaign(provider=provider, audience=audience_of(INDIA[:1]))
    messages = [
        Message.objects.create(provider=provider, campaign=campaign, to=INDIA[0], msg_id=f"m-{cap}-{i}")
        for i in range(3)
    ]
    now, period = datetime.now(UTC), timedelta(hours=24)
    allowed = sendrules.check_and_record([(m, cap, period) for m in messages], now)
    assert allowed == {m.id for m in messages[:cap]}
    again = sendrules.check_and_record([(m, cap, period) for m in messages], now + timedelta(seconds=1))
    assert again == allowed  # the recorded ones stay allowed, the others still over the cap
    assert FrequencyRecord.objects.count() == cap


def test_admin_shows_the_send_rules(admin_client):
    provider = make_provider()
    campaign = make_campaign(
        provider=provider, audience=audience_of(INDIA[:1]), window_start=time(9), window_end=time(21)
    )
    listing = admin_client.get("/admin/campaigns/campaign/").content.decode()
    assert "Window 09:00-21:00 (each contact&#x27;s local time)" in listing
    assert admin_client.get("/admin/campaigns/campaign/add/").status_code == 200
    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "Waiting for window" in page
    assert admin_client.get("/admin/campaigns/frequencyrecord/").status_code == 200
