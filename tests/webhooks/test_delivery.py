"""Webhook deliveries over real HTTP: signature, retries with backoff, the address guard, redirects,
the bounded log, and events emitted where they happen (applier, result writer, completion)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.engine.complete import campaign_complete_if_done
from campaigns.engine.results import DONE_SENT, Result, write_results
from campaigns.events import events_applier_run
from campaigns.models import Campaign, InboxMessage, MessageStatus
from providers.models import ProviderEvent
from rcsconnect.webhooks import delivery, services
from rcsconnect.webhooks.events import emit
from rcsconnect.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from tests.api.factories import make_campaign, make_message

pytestmark = pytest.mark.django_db
ALL = ["reply.received", "message.status_changed", "campaign.finished"]


def verify(secret: str, headers: dict, body: bytes, tolerance: int = 300) -> bool:
    """The receiver's check, as docs/webhooks.md gives it."""
    timestamp = headers["X-RCS-Timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-RCS-Signature"], f"sha256={expected}")


def hook(receiver, events=ALL, **kw) -> Webhook:
    return services.webhook_create(name="CRM", url=kw.pop("url", receiver.url), events=events, **kw)


def test_status_change_from_a_callback_is_signed_and_sent_after_the_applier_commits(
    receiver, sync_tasks, django_capture_on_commit_callbacks
):
    webhook = hook(receiver)
    campaign = make_campaign()
    message = make_message(campaign.provider, campaign, status=MessageStatus.SENT, sent_at=timezone.now())
    ProviderEvent.objects.create(
        provider=campaign.provider, msg_id=message.msg_id, channel="RCS", status="delivered", dedupe_key="d1"
    )
    with django_capture_on_commit_callbacks() as callbacks:
        events_applier_run(budget=5)
        # Written in the applier's transaction, not sent from it: nothing has reached the receiver.
        assert WebhookDelivery.objects.filter(event="message.status_changed").count() == 1
        assert receiver.requests == []
    for callback in callbacks:
        callback()
    (request,) = receiver.requests
    assert request["path"] == "/hooks" and verify(webhook.secret, request["headers"], request["body"])
    assert not verify("whsec_wrong", request["headers"], request["body"])
    body = json.loads(request["body"])
    assert body["type"] == "message.status_changed" and request["headers"]["X-RCS-Event"] == body["type"]
    assert body["id"] == request["headers"]["X-RCS-Delivery"]
    assert body["data"] | {"at": None} == body["data"] | {
        "message_id": message.pk,
        "msg_id": message.msg_id,
        "campaign_id": campaign.pk,
        "status": "delivered",
        "previous_status": "sent",
        "at": None,
    }
    sent = WebhookDelivery.objects.get()
    assert sent.status == "succeeded" and sent.attempts == 1 and sent.last_status_code == 200
    assert WebhookAttempt.objects.get().latency_ms is not None


def test_reply_is_emitted_with_the_message_it_answers(
    receiver, sync_tasks, django_capture_on_commit_callbacks
):
    hook(receiver, events=["reply.received"])
    campaign = make_campaign()
    message = make_message(campaign.provider, campaign, to="+919812345678", sent_at=timezone.now())
    ProviderEvent.objects.create(
        provider=campaign.provider,
        msg_id=message.msg_id,
        status="inbound",
        dedupe_key="r1",
        data={"from_number": "+919812345678", "text": "STOP"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        events_applier_run(budget=5)
    assert InboxMessage.objects.count() == 1
    (request,) = receiver.requests  # reply only: status changes are not subscribed
    data = json.loads(request["body"])["data"]
    assert data["phone"] == "+919812345678" and data["text"] == "STOP" and data["action"] == "opt_out"
    assert data["in_reply_to"] == {
        "message_id": message.pk,
        "msg_id": message.msg_id,
        "campaign_id": campaign.pk,
    }


def test_engine_sent_and_campaign_finished(receiver, sync_tasks, django_capture_on_commit_callbacks):
    hook(receiver)
    campaign = make_campaign(status=Campaign.Status.SENDING, fanned_out_at=timezone.now(), total_count=1)
    message = make_message(campaign.provider, campaign, status=MessageStatus.SENDING, attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        write_results([Result(message.pk, DONE_SENT, vendor_id="v-1")])
        assert campaign_complete_if_done(campaign_id=campaign.pk)
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert [b["type"] for b in bodies] == ["message.status_changed", "campaign.finished"]
    assert bodies[0]["data"]["status"] == "sent" and bodies[0]["data"]["previous_status"] == "sending"
    finished = bodies[1]["data"]
    assert finished["campaign_id"] == campaign.pk and finished["status"] == "completed"
    assert finished["counts"]["sent"] == 1 and finished["counts"]["total"] == 1


def test_retries_with_backoff_on_500_then_succeeds(receiver, settings):
    webhook = hook(receiver)
    receiver.answers = [(500, {}), (503, {})]
    emit("campaign.finished", [{"campaign_id": 1}])
    sent = WebhookDelivery.objects.get()
    t0 = timezone.now()

    assert delivery.webhook_deliver(delivery_id=sent.pk, now=t0) == "pending"
    sent.refresh_from_db()
    first_wait = (sent.next_attempt_at - t0).total_seconds()
    assert sent.attempts == 1 and sent.last_status_code == 500 and 5 <= first_wait <= 10
    # Not due yet: neither the task nor the sweeper sends it again.
    assert delivery.webhook_deliver(delivery_id=sent.pk, now=t0 + timedelta(seconds=4)) == "not due"
    assert delivery.webhook_retry_due(now=t0 + timedelta(seconds=4)) == 0
    assert len(receiver.requests) == 1

    t1 = sent.next_attempt_at
    assert delivery.webhook_deliver(delivery_id=sent.pk, now=t1) == "pending"
    sent.refresh_from_db()
    second_wait = (sent.next_attempt_at - t1).total_seconds()
    assert sent.attempts == 2 and sent.last_status_code == 503 and 10 <= second_wait <= 20  # doubled

    assert delivery.webhook_deliver(delivery_id=sent.pk, now=sent.next_attempt_at) == "succeeded"
    sent.refresh_from_db()
    assert sent.attempts == 3 and sent.last_status_code == 200 and sent.next_attempt_at is None
    assert [a.status_code for a in sent.attempt_log.all()] == [500, 503, 200]
    assert all(verify(webhook.secret, r["headers"], r["body"]) for r in receiver.requests)
    assert len({r["body"] for r in receiver.requests}) == 1  # the same event body every time


def test_sweeper_enqueues_due_retries_and_gives_up_after_the_last_attempt(receiver, sync_tasks):
    hook(receiver)
    receiver.answers = [(500, {})] * 3
    emit("campaign.finished", [{"campaign_id": 1}])
    sent = WebhookDelivery.objects.get()
    now = timezone.now()
    delivery.webhook_deliver(delivery_id=sent.pk, now=now)
    for _ in range(2):
        sent.refresh_from_db()
        assert delivery.webhook_retry_due(now=sent.next_attempt_at) == 1  # runs the task inline (sync)
    sent.refresh_from_db()
    assert sent.status == "failed" and sent.attempts == 3 and sent.next_attempt_at is None
    assert delivery.webhook_retry_due(now=now + timedelta(days=1)) == 0


def test_the_address_guard_refuses_a_host_not_allow_listed(receiver, stranger):
    with pytest.raises(ValidationError) as refused:
        services.webhook_create(name="Internal", url=stranger.url, events=ALL)
    assert "Refused to connect" in refused.value.message_dict["url"][0]
    # Saved before an operator narrowed the allow-list (or a name that now resolves privately).
    Webhook.objects.create(name="Internal", url=stranger.url, events=ALL, secret=services.new_secret())
    emit("campaign.finished", [{"campaign_id": 1}])
    sent = WebhookDelivery.objects.get()
    assert delivery.webhook_deliver(delivery_id=sent.pk) == "pending"
    sent.refresh_from_db()
    assert "Refused to connect to 127.0.0.1" in sent.last_error and sent.last_status_code is None
    assert stranger.requests == []


def test_redirects_are_not_followed(receiver, stranger, settings):
    settings.OUTBOUND_ALLOW_HOSTS = [f"127.0.0.1:{receiver.port}", f"127.0.0.1:{stranger.port}"]
    hook(receiver)
    receiver.answers = [(307, {"Location": stranger.url})]
    emit("campaign.finished", [{"campaign_id": 1}])
    sent = WebhookDelivery.objects.get()
    delivery.webhook_deliver(delivery_id=sent.pk)
    sent.refresh_from_db()
    assert sent.last_status_code == 307 and "Redirects are not followed" in sent.last_error
    assert stranger.requests == [] and sent.status == "pending"


def test_inactive_or_unsubscribed_webhooks_get_nothing(receiver):
    hook(receiver, events=["reply.received"])
    paused = hook(receiver, events=ALL)
    services.webhook_update(webhook=paused, is_active=False)
    assert emit("campaign.finished", [{"campaign_id": 1}]) == 0
    assert WebhookDelivery.objects.count() == 0


def test_the_log_keeps_the_newest_deliveries(receiver, settings):
    settings.RCS_WEBHOOK_LOG_KEEP = 3
    webhook = hook(receiver)
    for n in range(5):
        emit("campaign.finished", [{"campaign_id": n}])
    ids = list(WebhookDelivery.objects.order_by("id").values_list("pk", flat=True))
    for delivery_id in ids:
        delivery.webhook_deliver(delivery_id=delivery_id)
    kept = WebhookDelivery.objects.filter(webhook=webhook).order_by("id")
    assert list(kept.values_list("pk", flat=True)) == ids[-3:]
    assert WebhookAttempt.objects.count() == 3


def test_rotated_secret_signs_from_then_on(receiver):
    webhook = hook(receiver)
    old = webhook.secret
    new = services.webhook_rotate_secret(webhook_id=webhook.pk)
    assert new != old and new.startswith("whsec_")
    emit("campaign.finished", [{"campaign_id": 1}])
    delivery.webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)
    (request,) = receiver.requests
    assert verify(new, request["headers"], request["body"]) and not verify(
        old, request["headers"], request["body"]
    )


def test_test_event_is_one_attempt(receiver, sync_tasks, django_capture_on_commit_callbacks):
    webhook = hook(receiver)
    receiver.answers = [(500, {})]
    with django_capture_on_commit_callbacks(execute=True):
        delivery.webhook_send_test(webhook_id=webhook.pk, user_name="marketer")
    sent = WebhookDelivery.objects.get()
    assert sent.event == "webhook.test" and sent.status == "failed" and sent.attempts == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["one statement", "locked rows", "caller's transaction"])
def test_the_result_writer_stores_its_deliveries_with_the_batch_so_a_crash_loses_none(
    receiver, sync_tasks, monkeypatch, path
):
    """The deliveries are written in the batch's transaction (the outbox): with the task that should
    follow the commit lost (a crash), the sweeper still sends each, once, signed."""
    from django.db import connection, transaction

    from campaigns.engine.claim import claim
    from campaigns.services import campaign_start
    from tests.campaigns.conftest import make_campaign as make_sending_campaign

    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)
    lost = []
    monkeypatch.setattr("rcsconnect.webhooks.events.enqueue", lost.append)  # the ORM storage's
    monkeypatch.setattr("campaigns.storage.postgresql.enqueue", lost.append)  # PostgreSQL's
    webhook = hook(receiver, events=["message.status_changed"])
    hook(receiver, events=["reply.received"])  # not subscribed: gets nothing
    paused = hook(receiver, events=["message.status_changed"])
    Webhook.objects.filter(pk=paused.pk).update(is_active=False)  # paused: gets nothing
    campaign = campaign_start(campaign_id=make_sending_campaign(size=3).pk)
    got = claim(provider_id=campaign.provider_id, limit=3, lease_seconds=30).messages
    got.sort(key=lambda m: m.id)
    rows = got if path == "one statement" else [None] * 3
    if path == "one statement" and connection.vendor != "postgresql":
        pytest.skip("the one-statement write is PostgreSQL's")
    results = [Result(m.id, DONE_SENT, vendor_id=f"v-{m.id}", row=r) for m, r in zip(got, rows, strict=True)]
    if path == "caller's transaction":
        with transaction.atomic():
            write_results(results)
    else:
        write_results(results)

    stored = list(WebhookDelivery.objects.order_by("id"))
    assert [d.webhook_id for d in stored] == [webhook.pk] * 3 and len(lost) == 1 and len(lost[0]) == 3
    assert len({d.event_id for d in stored}) == 3
    assert all(d.payload["id"] == str(d.event_id) and d.status == "pending" for d in stored)
    assert delivery.webhook_retry_due() == 3  # the sweeper finds them all due
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert sorted(b["data"]["message_id"] for b in bodies) == [m.id for m in got]
    assert {(b["type"], b["data"]["status"], b["data"]["previous_status"]) for b in bodies} == {
        ("message.status_changed", "sent", "sending")
    }
    assert all(verify(webhook.secret, r["headers"], r["body"]) for r in receiver.requests)
    assert delivery.webhook_retry_due() == 0  # delivered: never again


def test_cancelling_a_sending_campaign_emits_campaign_finished(
    receiver, sync_tasks, django_capture_on_commit_callbacks, monkeypatch
):
    from campaigns.services import campaign_cancel, campaign_start
    from tests.campaigns.conftest import make_campaign as make_sending_campaign

    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)
    hook(receiver)
    campaign = campaign_start(campaign_id=make_sending_campaign(size=3).pk)
    draft = make_sending_campaign(size=2)
    with django_capture_on_commit_callbacks(execute=True):
        campaign_cancel(campaign_id=campaign.pk)
        campaign_cancel(campaign_id=draft.pk)  # never sent: it does not "finish"
    (body,) = [json.loads(r["body"]) for r in receiver.requests]
    assert body["type"] == "campaign.finished"
    data = body["data"]
    assert data["campaign_id"] == campaign.pk and data["status"] == "cancelled" and data["finished_at"]
    assert data["counts"]["cancelled"] == 3 and data["counts"]["total"] == 3
