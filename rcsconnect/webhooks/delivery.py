"""Sending one delivery: sign, POST through the outbound address guard, log the attempt, schedule
the retry or give up, prune the log.

A delivery is claimed before it is sent (a conditional UPDATE moves its `next_attempt_at` past the
attempt's timeout), so the task that follows an event and the retry sweeper never send it twice at
once. Redirects are not followed: a 3xx answer is a failed attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import time
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from rcsconnect.http import BlockedAddressError, outbound_session

from .models import TEST_EVENT, Webhook, WebhookAttempt, WebhookDelivery

SIGNATURE_HEADER = "X-RCS-Signature"
TIMESTAMP_HEADER = "X-RCS-Timestamp"
EVENT_HEADER = "X-RCS-Event"
DELIVERY_HEADER = "X-RCS-Delivery"
DUE_BATCH = 500
logger = logging.getLogger(__name__)
_random = random.Random()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-RCS-Signature value: HMAC-SHA256 over `<timestamp>.<body>` (docs/webhooks.md)."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()


def backoff(failed_attempts: int) -> float:
    """Seconds before the next attempt after `failed_attempts` failures: exponential, jittered
    within its upper half so retries of many deliveries spread out but never come early."""
    base = settings.RCS_WEBHOOK_RETRY_BASE_SECONDS * 2 ** max(0, failed_attempts - 1)
    cap = min(settings.RCS_WEBHOOK_RETRY_MAX_SECONDS, base)
    return _random.uniform(cap / 2, cap)


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    lease = now + timedelta(seconds=settings.RCS_WEBHOOK_TIMEOUT_SECONDS * 2 + 30)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=lease)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)


def _post(webhook: Webhook, delivery: WebhookDelivery) -> tuple[int | None, str]:
    """One attempt: (status code or None, error text or ""). Signed with the wall clock at sending
    time (the receiver checks it against its own), whatever clock decided the attempt was due."""
    body = body_of(delivery)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.event_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(webhook.secret, timestamp, body),
    }
    timeout = settings.RCS_WEBHOOK_TIMEOUT_SECONDS
    session = outbound_session(pool_size=1, timeout=(timeout, timeout))
    try:
        response = session.post(webhook.url, data=body, headers=headers, allow_redirects=False)
    except BlockedAddressError as exc:
        return None, str(exc)
    except requests.RequestException as exc:
        return None, f"{exc.__class__.__name__}: {exc}"[:300]
    finally:
        session.close()
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    if response.is_redirect:
        return response.status_code, "Redirects are not followed; give the final address."
    return response.status_code, f"The receiver answered {response.status_code}."


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> str:
    """Make the delivery's next attempt if it is due; returns what happened (for the task's result)."""
    now = now or timezone.now()
    delivery = _claim(delivery_id, now)
    if delivery is None:
        return "not due"
    started = time.monotonic()
    code, error = _post(delivery.webhook, delivery)
    latency = int((time.monotonic() - started) * 1000)
    number = delivery.attempts + 1
    delivery.attempts, delivery.last_status_code = number, code
    delivery.last_latency_ms, delivery.last_error = latency, error
    if not error:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
            WebhookDelivery.Status.SUCCEEDED,
            now,
            None,
        )
    elif number >= settings.RCS_WEBHOOK_MAX_ATTEMPTS or delivery.event == TEST_EVENT:
        delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
    else:
        delivery.next_attempt_at = now + timedelta(seconds=backoff(number))
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery, number=number, at=now, status_code=code, latency_ms=latency, error=error
        )
        delivery.save(
            update_fields=[
                "attempts",
                "status",
                "next_attempt_at",
                "delivered_at",
                "last_status_code",
                "last_latency_ms",
                "last_error",
            ]
        )
    if delivery.status != WebhookDelivery.Status.PENDING:
        prune_log(webhook_id=delivery.webhook_id)
    return delivery.status


def webhook_retry_due(*, now: datetime | None = None) -> int:
    """Enqueue an attempt for every pending delivery whose backoff has run out; returns how many."""
    from django_q.tasks import async_task

    now = now or timezone.now()
    due = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
    ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:DUE_BATCH])
    for delivery_id in ids:
        async_task(
            "rcsconnect.webhooks.tasks.webhook_deliver_task", delivery_id, now.isoformat(), group="webhooks"
        )
    return len(ids)


def prune_log(*, webhook_id: int) -> int:
    """Delete the webhook's finished deliveries beyond the newest RCS_WEBHOOK_LOG_KEEP."""
    keep = settings.RCS_WEBHOOK_LOG_KEEP
    newest = WebhookDelivery.objects.filter(webhook_id=webhook_id).order_by("-created_at", "-id")
    boundary = newest.values_list("created_at", "pk")[keep : keep + 1]
    if not boundary:
        return 0
    created_at, pk = boundary[0]
    old = WebhookDelivery.objects.filter(webhook_id=webhook_id).exclude(status=WebhookDelivery.Status.PENDING)
    old = old.filter(created_at__lt=created_at) | old.filter(created_at=created_at, pk__lte=pk)
    deleted, _ = old.delete()
    return deleted


def webhook_send_test(*, webhook_id: int, user_name: str = "") -> WebhookDelivery:
    """A `webhook.test` event for this webhook only (sent once, not retried), delivered by a task."""
    from .events import enqueue, envelope

    webhook = Webhook.objects.get(pk=webhook_id)
    now = timezone.now()
    delivery = WebhookDelivery(webhook=webhook, event=TEST_EVENT, created_at=now, next_attempt_at=now)
    data = {"webhook_id": webhook.pk, "message": "A test event from rcsconnect.", "requested_by": user_name}
    delivery.payload = {"id": str(delivery.event_id), **envelope(TEST_EVENT, data, at=now)}
    delivery.save()
    transaction.on_commit(lambda: enqueue([delivery.pk]))
    return delivery
