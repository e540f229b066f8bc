"""Stats: incremental hourly buckets agree with a rebuild from messages; funnel, rates, series."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import F

from campaigns import stats
from campaigns.models import Campaign, ErrorBucket, Message, StatBucket
from campaigns.state import advance, counter_field
from tests.api.factories import make_campaign, make_message, make_provider

T0 = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def apply(
    message: Message, channel: str, status: str, at: datetime, code: str = "", *, upsert: bool = False
) -> None:
    """What the engine and the callback handler do: advance, save, bump counters, record.

    `upsert`: record through `stats.upsert_statements` (the engine's one-round-trip path) instead.
    """
    code_before = message.error_code
    change = advance(message, channel=channel, status=status, at=at, error_code=code)
    if not change:
        return
    message.save(update_fields=sorted(change.fields))
    if message.campaign_id:
        Campaign.objects.filter(pk=message.campaign_id).update(
            **{counter_field(k): F(counter_field(k)) + v for k, v in change.counters.items() if v}
        )
    if upsert:
        with connection.cursor() as cursor:
            for sql, params in stats.upsert_statements([(message, change, code_before)]):
                cursor.execute(sql, params)
    else:
        stats.record([(message, change, code_before)])


def bucket_rows(**scope):
    stat = sorted(
        (
            StatBucket.objects.filter(**scope).values_list(
                "provider_id",
                "campaign_id",
                "hour",
                "sent",
                "delivered_rcs",
                "delivered_sms",
                "read",
                "clicked",
                "replied",
                "failed",
            )
        ),
        key=_key,
    )
    errors = sorted(
        ErrorBucket.objects.filter(**scope, count__gt=0).values_list(
            "provider_id", "campaign_id", "hour", "code", "count"
        ),
        key=_key,
    )
    stat = [row for row in stat if any(row[3:])]
    return stat, errors


def _key(row):
    return tuple(-1 if v is None else v for v in row)


def test_funnel_rates_and_buckets_follow_events():
    campaign = make_campaign(total_count=4)
    provider = campaign.provider
    m1, m2, m3, m4 = (make_message(provider, campaign, sms_fallback=True) for _ in range(4))
    apply(m1, "RCS", "sent", T0)
    apply(m1, "RCS", "delivered", T0 + timedelta(minutes=5))
    apply(m1, "RCS", "clicked", T0 + timedelta(hours=1))
    apply(m2, "RCS", "sent", T0)
    apply(m2, "RCS", "failed", T0 + timedelta(minutes=1), "1001")  # falls back to SMS
    apply(m2, "SMS", "delivered", T0 + timedelta(minutes=2))
    apply(m3, "RCS", "sent", T0)
    apply(m3, "RCS", "failed", T0, "2002")
    apply(m3, "SMS", "failed", T0 + timedelta(hours=2), "905")
    apply(m4, "", "failed", T0, "2003")

    campaign.refresh_from_db()
    funnel = stats.campaign_funnel(campaign)
    assert (funnel.queued, funnel.sent, funnel.delivered_rcs, funnel.delivered_sms) == (4, 3, 1, 1)
    assert (funnel.read, funnel.clicked, funnel.replied, funnel.failed) == (1, 1, 0, 2)
    # m3 failed on SMS with code 905 (the last failure); m4 failed at send with 2003.
    assert dict(funnel.errors) == {"905": 1, "2003": 1}
    assert funnel.delivery_rate == round(2 / 3, 4)
    assert funnel.ctr == 0.5 and funnel.ctr_basis == "delivered"
    assert funnel.fallback_rate == 0.5

    points = stats.series(campaign=campaign)
    assert [p.hour.hour for p in points] == [10, 11, 12]
    assert [(p.sent, p.delivered, p.failed, p.clicked) for p in points] == [
        (3, 2, 1, 0),
        (0, 0, 0, 1),
        (0, 0, 1, 0),
    ]
    assert stats.provider_stats(provider).sent == 3

    incremental = bucket_rows(campaign=campaign)
    stats.rebuild(campaign_id=campaign.pk)
    assert bucket_rows(campaign=campaign) == incremental


def test_late_delivery_after_failure_moves_the_error_out():
    campaign = make_campaign(total_count=1)
    m = make_message(campaign.provider, campaign)
    apply(m, "RCS", "sent", T0)
    apply(m, "RCS", "failed", T0, "2004")
    assert dict(stats.campaign_funnel(campaign).errors) == {"2004": 1}
    apply(m, "RCS", "delivered", T0 + timedelta(hours=3))  # the vendor's success report wins
    campaign.refresh_from_db()
    funnel = stats.campaign_funnel(campaign)
    assert funnel.failed == 0 and funnel.errors == [] and funnel.delivered_rcs == 1
    assert sum(p.failed for p in stats.series(campaign=campaign)) == 0


@pytest.mark.parametrize("upsert", [False, True], ids=["record", "upsert"])
def test_shuffled_random_events_agree_with_rebuild(upsert):
    rng = random.Random(7)
    provider = make_provider()
    campaign = make_campaign(provider)
    messages = [make_message(provider, campaign, sms_fallback=rng.random() < 0.5) for _ in range(30)]
    messages += [make_message(provider, None) for _ in range(5)]  # transactional sends
    events = []
    for m in messages:
        for channel, status in rng.sample(
            [
                ("RCS", "sent"),
                ("RCS", "delivered"),
                ("RCS", "read"),
                ("RCS", "failed"),
                ("SMS", "delivered"),
                ("SMS", "failed"),
                ("RCS", "clicked"),
                ("RCS", "replied"),
                ("", "failed"),
            ],
            k=rng.randint(1, 5),
        ):
            events.append((m, channel, status, T0 + timedelta(minutes=rng.randint(0, 600))))
    rng.shuffle(events)
    for m, channel, status, at in events:
        apply(m, channel, status, at, code=rng.choice(["2002", "2004", "905"]), upsert=upsert)
    incremental = bucket_rows(provider=provider)
    stats.rebuild(provider_id=provider.pk)
    assert bucket_rows(provider=provider) == incremental
    campaign.refresh_from_db()
    funnel = stats.campaign_funnel(campaign)
    totals = StatBucket.objects.filter(campaign=campaign)
    assert funnel.sent == sum(b.sent for b in totals)
    assert funnel.failed == sum(count for _, count in funnel.errors)


def test_ctr_uses_sent_without_delivery_reports_and_rates_are_none_when_empty():
    campaign = make_campaign(total_count=2)
    funnel = stats.campaign_funnel(campaign)
    assert funnel.delivery_rate is None and funnel.ctr is None and funnel.fallback_rate is None
    Campaign.objects.filter(pk=campaign.pk).update(sent_count=4, clicked_count=1)
    campaign.refresh_from_db()
    funnel = stats.campaign_funnel(campaign)
    assert funnel.ctr_basis == "sent" and funnel.ctr == 0.25


def test_provider_stats_since_and_queued_count():
    provider = make_provider()
    old = make_message(provider)
    apply(old, "RCS", "sent", T0 - timedelta(days=2))
    new = make_message(provider)
    apply(new, "RCS", "sent", T0)
    make_message(provider)  # still queued
    assert stats.provider_stats(provider).sent == 2
    assert stats.provider_stats(provider).waiting == 1
    assert stats.provider_stats(provider, since=T0 - timedelta(hours=1)).sent == 1
    points = stats.series(provider=provider, since=T0 - timedelta(hours=2), until=T0)
    assert len(points) == 3 and [p.sent for p in points] == [0, 0, 1]


def test_rebuild_stats_command():
    from io import StringIO

    from django.core.management import call_command

    campaign = make_campaign()
    m = make_message(campaign.provider, campaign)
    apply(m, "RCS", "sent", T0)
    StatBucket.objects.all().delete()
    out = StringIO()
    call_command("rebuild_stats", campaign=campaign.pk, stdout=out)
    assert "rebuilt 1 hourly buckets" in out.getvalue()
    assert [p.sent for p in stats.series(campaign=campaign)] == [1]


def test_provider_waiting_count_is_capped(monkeypatch):
    provider = make_provider()
    for _ in range(3):
        make_message(provider)
    monkeypatch.setattr(stats, "QUEUED_CAP", 2)
    funnel = stats.provider_stats(provider)
    assert funnel.waiting == 2 and funnel.waiting_capped
