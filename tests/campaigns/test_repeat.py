"""Retry a failed message, resend a sent one: Support's safe actions (campaigns.state, "Retry and resend").

Through the admin (Support: allowed; Marketer and no role: refused) and the API, against the vendor
simulator over real HTTP (tasks inline), with the campaign's counters and stat buckets exact afterwards.
"""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns import state, stats
from campaigns.engine.limiter import get_limiter
from campaigns.models import Campaign, Contact, ErrorBucket, Message, MessageStatus, StatBucket
from campaigns.services import (
    CampaignError,
    campaign_cancel,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    message_resend,
    message_retry,
    transactional_send,
)

from .conftest import make_campaign, make_provider

pytestmark = pytest.mark.django_db(transaction=True)

BAD = "+919800000003"  # the simulator answers 200 failure 2002 for numbers ending in 3 (invalid_suffix)


@pytest.fixture
def sim(simulator, settings, sync_tasks):
    simulator.configure(callbacks=False, invalid_suffix="3")
    settings.RCS_DISPATCH_BUDGET_SECONDS = 30
    return simulator


def _finished_campaign(sim, size: int = 5) -> Campaign:
    provider = make_provider(url=f"{sim.url}/generic/messages", concurrency=2, max_rate=500)
    get_limiter().reset(provider.pk)
    campaign = campaign_launch(campaign_id=make_campaign(provider=provider, size=size).pk)
    assert campaign.status == Campaign.Status.COMPLETED
    assert (campaign.sent_count, campaign.failed_count) == (size - 1, 1)
    return campaign


def _client(role: str | None) -> Client:
    user = User.objects.create_user(f"user-{role or 'none'}", password="x")  # noqa: S106
    if role:
        user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def _admin_action(client: Client, action: str, message: Message):
    url = reverse("admin:campaigns_message_changelist")
    return client.post(url, {"action": action, "_selected_action": [message.pk]}, follow=True)


def stored(campaign: Campaign) -> tuple:
    """The campaign's counters, stat and error buckets: what `rebuild_stats` recomputes from the rows."""
    campaign.refresh_from_db()
    counters = {name: getattr(campaign, state.counter_field(name)) for name in state.COUNTED}
    buckets = StatBucket.objects.filter(campaign=campaign).order_by("hour")
    errors = ErrorBucket.objects.filter(campaign=campaign).order_by("hour", "code")
    return (
        counters,
        list(buckets.values_list("hour", "sent", "delivered_rcs", "delivered_sms", "read", "failed")),
        list(errors.values_list("hour", "code", "count")),
    )


def assert_exact(campaign: Campaign) -> None:
    before = stored(campaign)
    stats.rebuild(campaign_id=campaign.pk)
    assert stored(campaign) == before, "the counters and buckets differ from a recount of the messages"


def sent_msg_ids(sim) -> list[str]:
    return [r["json"]["msgId"] for r in sim.requests(limit=200) if r["path"] == "/generic/messages"]


def test_support_retries_a_failed_message_in_the_admin_and_it_reaches_the_vendor(sim):
    campaign = _finished_campaign(sim)
    failed = Message.objects.get(campaign=campaign, to=BAD)
    assert (failed.status, failed.error_code) == (MessageStatus.FAILED, "2002")
    sim.configure(invalid_suffix="")  # the number works again at the vendor

    page = _admin_action(_client("Support"), "retry", failed).content.decode()

    attempt = Message.objects.get(repeat_of=failed)
    assert f"Retried 1 message(s): {failed.msg_id}-r1." in page
    assert attempt.msg_id == f"{failed.msg_id}-r1" and attempt.to == BAD
    assert attempt.status == MessageStatus.SENT  # the dispatcher ran (inline) and the vendor accepted it
    assert sent_msg_ids(sim).count(attempt.msg_id) == 1
    assert sent_msg_ids(sim).count(failed.msg_id) == 1  # the failed msgId is never sent again
    body = next(r["json"] for r in sim.requests(limit=200) if r["json"].get("msgId") == attempt.msg_id)
    assert body["rcsContent"]["content"]["text"] == "Hello Person 3, your code is 42"  # rendered as the first
    failed.refresh_from_db()
    assert failed.status == MessageStatus.FAILED  # the original keeps its status
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED and campaign.finished_at is not None
    assert (campaign.total_count, campaign.processed_count) == (6, 6)
    assert (campaign.sent_count, campaign.failed_count) == (5, 1)
    assert_exact(campaign)
    entry = LogEntry.objects.get_for_object(failed).get(additional_data__action="retry")
    assert entry.actor.username == "user-Support"
    assert entry.additional_data["attempt"] == attempt.msg_id


def test_support_resends_a_sent_message_in_a_completed_campaign(sim):
    campaign = _finished_campaign(sim)
    sent = Message.objects.filter(campaign=campaign, status=MessageStatus.SENT).first()

    _admin_action(_client("Support"), "resend", sent)

    attempt = Message.objects.get(repeat_of=sent)
    assert attempt.status == MessageStatus.SENT and sent_msg_ids(sim).count(attempt.msg_id) == 1
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert (campaign.total_count, campaign.sent_count, campaign.failed_count) == (6, 5, 1)
    assert_exact(campaign)


@pytest.mark.parametrize("role", ["Marketer", None])
def test_the_admin_action_is_refused_without_the_support_role(sim, role):
    campaign = _finished_campaign(sim)
    failed = Message.objects.get(campaign=campaign, to=BAD)
    response = _admin_action(_client(role), "retry", failed)
    assert response.status_code == 403
    assert not Message.objects.filter(repeat_of=failed).exists()
    assert stored(campaign)[0]["failed"] == 1


def test_the_api_retries_for_support_and_refuses_a_user_without_a_role(sim):
    campaign = _finished_campaign(sim)
    failed = Message.objects.get(campaign=campaign, to=BAD)
    nobody = APIClient()
    nobody.force_authenticate(User.objects.create_user("nobody"))
    assert nobody.post(f"/api/messages/{failed.pk}/retry/").status_code == 403
    helpdesk = User.objects.create_user("helpdesk")
    helpdesk.groups.add(Group.objects.get(name="Support"))
    support = APIClient()
    support.force_authenticate(helpdesk)
    sim.configure(invalid_suffix="")

    response = support.post(f"/api/messages/{failed.pk}/retry/")

    assert response.status_code == 201, response.content
    assert response.json()["msg_id"] == f"{failed.msg_id}-r1" and response.json()["repeat_of"] == failed.pk
    entry = LogEntry.objects.get_for_object(failed).get(additional_data__action="retry")
    assert entry.actor == helpdesk
    again = support.post(f"/api/messages/{failed.pk}/resend/")
    assert again.status_code == 409 and "Only a sent or delivered or read" in again.json()["status"][0]
    assert_exact(campaign)


def test_each_retry_is_a_new_msg_id_from_the_first_and_never_two_at_once(sim):
    campaign = _finished_campaign(sim)
    failed = Message.objects.get(campaign=campaign, to=BAD)
    first_retry = message_retry(message_id=failed.pk)  # the vendor still refuses the number
    first_retry.refresh_from_db()
    assert first_retry.status == MessageStatus.FAILED
    second = message_retry(message_id=first_retry.pk)  # retrying the retry: numbered from the first
    assert second.msg_id == f"{failed.msg_id}-r2" and second.repeat_of_id == failed.pk
    with pytest.raises(CampaignError, match="Only a failed message can be retried"):
        message_retry(message_id=Message.objects.filter(campaign=campaign, status="sent").first().pk)
    with pytest.raises(CampaignError, match="Only a sent or delivered or read message can be resent"):
        message_resend(message_id=failed.pk)
    assert_exact(campaign)
    campaign.refresh_from_db()
    assert (campaign.total_count, campaign.failed_count, campaign.status) == (7, 3, Campaign.Status.COMPLETED)


def test_a_paused_campaign_keeps_the_attempt_until_resumed_and_a_cancelled_one_refuses(sim, settings):
    campaign = _finished_campaign(sim)
    failed = Message.objects.get(campaign=campaign, to=BAD)
    sim.configure(invalid_suffix="")
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING, finished_at=None)
    campaign_pause(campaign_id=campaign.pk)

    attempt = message_retry(message_id=failed.pk)

    attempt.refresh_from_db()
    assert attempt.status == MessageStatus.QUEUED  # paused: nothing of the campaign is sent
    with pytest.raises(CampaignError, match="still waiting to be sent"):
        message_retry(message_id=failed.pk)  # a second click sends nothing twice
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED and campaign.queued_count == 1
    campaign_resume(campaign_id=campaign.pk)
    attempt.refresh_from_db()
    assert attempt.status == MessageStatus.SENT
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert_exact(campaign)

    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    campaign_cancel(campaign_id=campaign.pk)
    with pytest.raises(CampaignError, match="was cancelled"):
        message_resend(message_id=attempt.pk)
    assert not Message.objects.filter(repeat_of=failed).exclude(pk=attempt.pk).exists()


def test_an_unsubscribed_contact_or_a_disabled_provider_is_refused(sim):
    campaign = _finished_campaign(sim)
    failed = Message.objects.get(campaign=campaign, to=BAD)
    Contact.objects.filter(pk=failed.contact_id).update(subscribed=False)
    with pytest.raises(CampaignError, match="has unsubscribed"):
        message_retry(message_id=failed.pk)
    Contact.objects.filter(pk=failed.contact_id).update(subscribed=True)
    campaign.provider.enabled = False
    campaign.provider.save(update_fields=["enabled"])
    with pytest.raises(CampaignError, match="disabled or archived"):
        message_retry(message_id=failed.pk)
    assert not Message.objects.filter(repeat_of=failed).exists()
    assert_exact(campaign)


def test_a_failed_transactional_send_is_retried_with_its_content(sim):
    campaign = _finished_campaign(sim)  # for its provider and template
    first = transactional_send(
        provider=campaign.provider, template=campaign.template, to=BAD, values=["Ann", "7"]
    )
    first.refresh_from_db()
    assert first.status == MessageStatus.FAILED and first.campaign_id is None
    sim.configure(invalid_suffix="")

    attempt = message_retry(message_id=first.pk)

    attempt.refresh_from_db()
    assert attempt.status == MessageStatus.SENT and attempt.content == first.content
    body = next(r["json"] for r in sim.requests(limit=200) if r["json"].get("msgId") == attempt.msg_id)
    assert body["rcsContent"]["content"]["text"] == "Hello Ann, your code is 7"
