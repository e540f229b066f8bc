"""Launch fans out one message per subscribed recipient, in bulk, with fixed unique msgIds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.models import Campaign, Message, MessageStatus
from campaigns.services import CampaignError, campaign_fan_out, campaign_launch, campaign_start

from .conftest import make_audience, make_campaign


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    # Fan-out only: keep dispatch tasks out of these tests.
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)


@pytest.mark.django_db
def test_one_message_per_subscribed_contact_with_fixed_unique_msg_ids():
    campaign = make_campaign(audience=make_audience(25, unsubscribed=5))
    started = campaign_start(campaign_id=campaign.pk)
    assert started.status == Campaign.Status.SENDING
    assert started.total_count == 20
    assert started.fanned_out_at is not None
    messages = list(Message.objects.filter(campaign=campaign))
    assert len(messages) == 20
    assert {m.status for m in messages} == {MessageStatus.QUEUED}
    ids = [m.msg_id for m in messages]
    assert len(set(ids)) == 20 and all(len(i) <= 60 for i in ids)
    assert all(i.startswith(started.msg_prefix + "-") for i in ids)
    assert {m.to for m in messages} == {c.phone for c in campaign.audience.contacts.filter(subscribed=True)}
    assert all(m.next_attempt_at is not None and m.contact_id for m in messages)


@pytest.mark.django_db
def test_fan_out_in_chunks_is_idempotent():
    campaign = make_campaign(audience=make_audience(23))
    campaign_start(campaign_id=campaign.pk)
    campaign.refresh_from_db()
    before = list(Message.objects.filter(campaign=campaign).values_list("msg_id", flat=True).order_by("id"))
    # Running it again (a crash mid fan-out, then a retry) creates nothing new; small chunks on purpose.
    assert campaign_fan_out(campaign=campaign, chunk=4) == 0
    after = list(Message.objects.filter(campaign=campaign).values_list("msg_id", flat=True).order_by("id"))
    assert before == after
    campaign.refresh_from_db()
    assert campaign.total_count == 23


@pytest.mark.django_db
def test_sms_fallback_flag_follows_campaign_and_provider():
    campaign = make_campaign(sms_fallback_text="Hi {{1}}")
    campaign.provider.sms_fallback = True
    campaign.provider.save()
    campaign_start(campaign_id=campaign.pk)
    assert set(Message.objects.filter(campaign=campaign).values_list("sms_fallback", flat=True)) == {True}


@pytest.mark.django_db
def test_future_schedule_waits_and_tick_starts_it():
    from campaigns.services import engine_tick

    campaign = make_campaign(scheduled_at=timezone.now() + timedelta(hours=1))
    assert campaign_launch(campaign_id=campaign.pk).status == Campaign.Status.SCHEDULED
    assert not Message.objects.filter(campaign=campaign).exists()
    engine_tick()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    engine_tick(now=timezone.now() + timedelta(hours=2))
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING
    assert campaign.total_count == 10


@pytest.mark.django_db
def test_launch_refuses_unmapped_placeholders_and_non_drafts():
    campaign = make_campaign(placeholder_mapping=[{"source": "attribute", "value": "name"}])
    with pytest.raises(CampaignError, match=r"\{\{2\}\}"):
        campaign_launch(campaign_id=campaign.pk)
    campaign.placeholder_mapping.append({"source": "literal", "value": "x"})
    campaign.save()
    campaign_launch(campaign_id=campaign.pk)
    with pytest.raises(CampaignError, match="Only a draft"):
        campaign_launch(campaign_id=campaign.pk)


@pytest.mark.django_db
def test_empty_audience_completes_at_once():
    campaign = make_campaign(audience=make_audience(0))
    assert campaign_start(campaign_id=campaign.pk).status == Campaign.Status.COMPLETED


@pytest.mark.django_db
def test_tick_finishes_a_fan_out_that_was_cut_short_and_leaves_a_running_one_alone():
    from campaigns.services import engine_tick

    def cut_short(campaign: Campaign, started_ago: timedelta) -> Campaign:
        """As if the launching process died part-way: the last 6 messages never written."""
        campaign = campaign_start(campaign_id=campaign.pk)
        last = Message.objects.filter(campaign=campaign).order_by("-id").values_list("id", flat=True)[:6]
        Message.objects.filter(id__in=list(last)).delete()
        Campaign.objects.filter(pk=campaign.pk).update(
            fanned_out_at=None, total_count=campaign.total_count - 6, started_at=timezone.now() - started_ago
        )
        return campaign

    lost = cut_short(make_campaign(size=20), timedelta(minutes=10))
    running = cut_short(make_campaign(size=20), timedelta(minutes=1))

    assert engine_tick()["fan_outs_resumed"] == 1

    lost.refresh_from_db()
    assert lost.total_count == 20 == Message.objects.filter(campaign=lost).count()
    assert lost.fanned_out_at is not None
    running.refresh_from_db()
    assert running.total_count == 14 == Message.objects.filter(campaign=running).count()
    assert running.fanned_out_at is None
