"""`emit`: the one call that hands events to the webhooks subscribed to them.

Called where each event happens: inbound replies and vendor status changes by the callback applier
(`campaigns.events`), campaign completion and cancellation (`campaigns.engine.complete`,
`campaigns.services`). It writes one `WebhookDelivery` per event per subscribed webhook in the
caller's transaction (so an event exists exactly when the change that caused it was committed)
and, once that transaction commits, enqueues one delivery task each. The deliveries are the outbox:
a task lost before it ran (a crash just after the commit) is enqueued again by the retry sweeper
(`delivery.webhook_retry_due`), since a pending delivery is due from its creation.

The engine's result writer on PostgreSQL writes its batch in one statement: `insert_statement` is
the same insert as SQL, which looks the subscribers up itself (no round trip of its own; with no
subscriber it inserts nothing). Nothing is sent here: the
caller's transaction (the applier holds message and campaign locks) never waits on a receiver.
With no active webhook for the event type it costs one small indexed query.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import EventType, Webhook, WebhookDelivery

__all__ = ["EventType", "emit", "envelope", "insert_statement"]


def envelope(event: str, data: dict, *, at: datetime | None = None) -> dict:
    """The JSON body of one event (docs/webhooks.md, "Body"); `id` is set per delivery."""
    return {"type": event, "created_at": (at or timezone.now()).isoformat(), "data": data}


def subscribers(event: str) -> list[int]:
    """Ids of the active webhooks subscribed to `event`."""
    # JSONField `contains` is not available on SQLite: the table is small, filter in Python.
    rows = Webhook.objects.filter(is_active=True).values_list("pk", "events")
    return [pk for pk, events in rows if event in (events or [])]


def emit(event: str, items: Iterable[dict]) -> int:
    """Queue `event` with each `data` dict in `items` for every webhook that wants it; returns the
    number of deliveries created. Call it inside the transaction that makes the change (or after it)."""
    items = list(items)
    if not items:
        return 0
    hooks = subscribers(event)
    if not hooks:
        return 0
    now = timezone.now()
    deliveries = []
    for data in items:
        for webhook_id in hooks:
            delivery = WebhookDelivery(
                webhook_id=webhook_id, event=event, created_at=now, next_attempt_at=now
            )
            delivery.payload = {"id": str(delivery.event_id), **envelope(event, data, at=now)}
            deliveries.append(delivery)
    created = WebhookDelivery.objects.bulk_create(deliveries)
    ids = [d.pk for d in created if d.pk is not None]
    if len(ids) != len(created):  # a backend that does not return ids from bulk inserts
        ids = list(
            WebhookDelivery.objects.filter(event_id__in=[d.event_id for d in created]).values_list(
                "pk", flat=True
            )
        )
    transaction.on_commit(lambda: enqueue(ids))
    return len(ids)


# One delivery per (event, subscribed webhook), as `emit` writes them; the event id is derived from a
# key per statement, the event's position and the webhook (unique, and the same in the column and
# the body). Params: event, created_at (ISO), events (JSON array of data), key, next_attempt_at,
# created_at, the event as a JSON array (the subscription test).
_INSERT = """INSERT INTO {delivery} (webhook_id, event_id, event, payload, status, attempts,
    next_attempt_at, last_error, created_at)
SELECT w.id, md5(k.key || ':' || e.n || ':' || w.id)::uuid, k.event,
    jsonb_build_object('id', md5(k.key || ':' || e.n || ':' || w.id)::uuid::text, 'type', k.event,
                       'created_at', k.created_at, 'data', e.data),
    'pending', 0, %s, '', %s
FROM (SELECT %s::text AS event, %s::text AS created_at, %s::text AS key) AS k
CROSS JOIN {webhook} AS w
CROSS JOIN jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS e(data, n)
WHERE w.is_active AND w.events @> %s::jsonb"""


def insert_statement(event: str, items: list[dict], *, at: datetime, where: str = "") -> tuple[str, list]:
    """`emit` as one INSERT (PostgreSQL), for a caller that sends its writes as one statement;
    `where`: a further condition (SQL) it depends on. Append `RETURNING id` for the ids to enqueue."""
    sql = _INSERT.format(delivery=WebhookDelivery._meta.db_table, webhook=Webhook._meta.db_table)
    if where:
        sql += f" AND {where}"
    params = [at, at, event, at.isoformat(), uuid.uuid4().hex, json.dumps(items), json.dumps([event])]
    return sql, params


def enqueue(delivery_ids: list[int]) -> None:
    """One django-q2 task per delivery (a slow or failing receiver holds up only its own)."""
    from django_q.tasks import async_task

    for delivery_id in delivery_ids:
        async_task("rcsconnect.webhooks.tasks.webhook_deliver_task", delivery_id, group="webhooks")
