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


def _queued_tasks() -> list[tuple[str, tuple]]:
    """The tasks waiting in django-q2's broker (the ORM broker of the test settings), as (func, args)."""
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    tasks = [SignedPackage.loads(payload) for _, payload in get_broker().dequeue() or []]
    return [(task["func"], task["args"]) for task in tasks]


@pytest.mark.django_db(transaction=True)
def test_a_launch_from_the_page_answers_before_the_rows_exist_and_the_task_writes_them(marketer_client):
    """Tasks are asynchronous here (no `sync_tasks`): the request only changes the status and
    enqueues the fan-out; the page shows its progress; the task then writes every row."""
    from django.urls import reverse

    from campaigns import tasks

    campaign = make_campaign(audience=make_audience(30, unsubscribed=4))
    response = marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "launch"]), follow=True)
    assert response.status_code == 200 and "launched" in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENDING and campaign.fanned_out_at is None
    assert not Message.objects.filter(campaign=campaign).exists()
    page = response.content.decode()
    assert 'id="fan-out"' in page and '<b class="fan-out-created">0</b>' in page
    assert '<b class="fan-out-audience">26</b>' in page

    # Part-way (one chunk written), the progress partial the page polls says how far it got.
    Campaign.objects.filter(pk=campaign.pk).update(total_count=10)
    progress = marketer_client.get(reverse("campaigns:progress", args=[campaign.pk])).content.decode()
    assert '<b class="fan-out-created">10</b> of <b class="fan-out-audience">26</b>' in progress
    assert "38%" in progress
    Campaign.objects.filter(pk=campaign.pk).update(total_count=0)

    queued = [args for func, args in _queued_tasks() if func == "campaigns.tasks.fan_out"]
    assert queued == [(campaign.pk,)]
    tasks.fan_out(*queued[0])  # what the cluster runs: ids in, the service does the rest
    campaign.refresh_from_db()
    assert campaign.total_count == 26 and campaign.fanned_out_at is not None
    assert Message.objects.filter(campaign=campaign, status=MessageStatus.QUEUED).count() == 26
    progress = marketer_client.get(reverse("campaigns:progress", args=[campaign.pk])).content.decode()
    assert 'id="fan-out"' not in progress and "of 26 processed" in progress
    tasks.fan_out(campaign.pk)  # run twice (the tick's repair, a retried task): nothing more
    assert Message.objects.filter(campaign=campaign).count() == 26


@pytest.mark.django_db(transaction=True)
def test_the_fan_out_task_skips_a_campaign_cancelled_before_it_ran():
    from campaigns import tasks
    from campaigns.services import campaign_cancel

    campaign = make_campaign(size=5)
    campaign_launch(campaign_id=campaign.pk, background=True)
    campaign_cancel(campaign_id=campaign.pk)
    tasks.fan_out(campaign.pk)
    assert not Message.objects.filter(campaign=campaign).exists()


@pytest.mark.django_db(transaction=True)
def test_a_launch_outside_a_request_writes_the_rows_before_it_returns():
    """Commands, the demo and the tick: no task needed (nothing enqueued for the fan-out)."""
    campaign = campaign_launch(campaign_id=make_campaign(size=7).pk)
    assert campaign.total_count == 7 and campaign.fanned_out_at is not None
    assert not [f for f, _ in _queued_tasks() if f == "campaigns.tasks.fan_out"]
