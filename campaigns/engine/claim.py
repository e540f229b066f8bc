"""Handing due messages to one worker: a short transaction and a lease.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` so concurrent workers take disjoint rows without
waiting; SQLite serialises writers (IMMEDIATE transactions) so the same statements are safe there.
A message whose lease ran out (its worker died) is due again and is claimed with the same msgId.
The transition itself (queued, or sending with its lease run out, -> sending) is `state.CLAIM`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from campaigns import state
from campaigns.models import Campaign, Message, MessageStatus
from rcsconnect.db import loaded_fields

from .results import LOCK_FIELDS


@dataclass(frozen=True)
class Claim:
    ids: list[int]
    lease_until: datetime
    # The claimed rows with their contact's attributes, when the claim could load them at once:
    # on PostgreSQL as the claim left them (every field writing a result reads, and the row
    # version, `claimed_version`), so a result can be written without loading the row again.
    messages: list[Message] | None = None


def active_campaign_ids(provider_id: int) -> list[int]:
    return list(
        Campaign.objects.filter(provider_id=provider_id, status=Campaign.Status.SENDING).values_list(
            "id", flat=True
        )
    )


def due_filter(provider_id: int, campaign_ids: list[int], now: datetime) -> Q:
    due = Q(status=MessageStatus.QUEUED, next_attempt_at__lte=now) | Q(
        status=MessageStatus.SENDING, lease_until__lt=now
    )
    owners = (
        Q(campaign__isnull=True) | Q(campaign_id__in=campaign_ids)
        if campaign_ids
        else Q(campaign__isnull=True)
    )
    return Q(provider_id=provider_id) & due & owners


def claim(
    *, provider_id: int, limit: int, lease_seconds: float, campaign_ids: list[int] | None = None
) -> Claim:
    """Lease up to `limit` due messages of the provider's sending campaigns (and transactional ones)."""
    if campaign_ids is None:
        campaign_ids = active_campaign_ids(provider_id)
    now = timezone.now()
    lease_until = now + timedelta(seconds=lease_seconds)
    if connection.vendor == "postgresql":
        return _claim_postgresql(provider_id, limit, campaign_ids, now, lease_until)
    with transaction.atomic():
        ids = list(
            Message.objects.filter(due_filter(provider_id, campaign_ids, now))
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            Message.objects.filter(id__in=ids).update(
                status=state.CLAIM[MessageStatus.QUEUED], lease_until=lease_until, attempts=F("attempts") + 1
            )
    return Claim(ids=ids, lease_until=lease_until)


# Claimed rows, with the fields the dispatcher sends from, and the contact's attributes.
CLAIM_FIELDS = ("id", "msg_id", "to", "campaign_id", "contact_id", "content", "sms_fallback", "attempts")
# On PostgreSQL the claim also returns what writing the message's result reads (results.LOCK_FIELDS).
RETURNED_FIELDS = tuple(dict.fromkeys((*CLAIM_FIELDS, *LOCK_FIELDS)))
CLAIM_SQL = """
WITH picked AS (
    SELECT id FROM {message}
    WHERE provider_id = %(provider)s
      AND ((status = 'queued' AND next_attempt_at <= %(now)s)
           OR (status = 'sending' AND lease_until < %(now)s))
      AND (campaign_id IS NULL OR campaign_id = ANY(%(campaigns)s))
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE {message} AS m SET status = %(to)s, lease_until = %(lease)s, attempts = m.attempts + 1
    FROM picked WHERE m.id = picked.id
    RETURNING {returning}, m.xmin::text AS version
)
SELECT claimed.*, c.attributes FROM claimed LEFT JOIN {contact} AS c ON c.id = claimed.contact_id
ORDER BY claimed.id
"""


def _claim_postgresql(
    provider_id: int, limit: int, campaign_ids: list[int], now: datetime, lease_until: datetime
) -> Claim:
    """The same claim as one statement (one round trip): lock, lease and load the rows together."""
    from campaigns.models import Contact

    fields, attnames = loaded_fields(Message, RETURNED_FIELDS)
    sql = CLAIM_SQL.format(
        message=Message._meta.db_table,
        contact=Contact._meta.db_table,
        returning=", ".join(f'm."{f.column}"' for f in fields),
    )
    params = {"provider": provider_id, "now": now, "campaigns": list(campaign_ids), "limit": limit}
    params["lease"], params["to"] = lease_until, state.CLAIM[MessageStatus.QUEUED]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # Rows as the ORM loads them (`from_db`: positional, in the model's field order; JSON columns
    # go through their fields' from_db_value).
    content = Message._meta.get_field("content")
    contact_attributes = Contact._meta.get_field("attributes")
    alias = connection.alias
    messages = []
    for *values, version, attributes in rows:
        message = Message.from_db(alias, attnames, values)
        message.claimed_version = version  # the row version (xmin) the claim wrote
        message.content = content.from_db_value(message.content, None, connection)
        if message.contact_id is not None:
            loaded = contact_attributes.from_db_value(attributes, None, connection)
            message.contact = Contact(pk=message.contact_id, attributes=loaded or {})
        messages.append(message)
    return Claim(ids=[m.id for m in messages], lease_until=lease_until, messages=messages)


def next_due_at(*, provider_id: int, campaign_ids: list[int], leased: bool = True) -> datetime | None:
    """When the next message of the provider becomes due: a retry, or (`leased`) a lease running out."""
    owners = Q(campaign__isnull=True) | Q(campaign_id__in=campaign_ids)
    base = Message.objects.filter(owners, provider_id=provider_id)
    queued = (
        base.filter(status=MessageStatus.QUEUED)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)[:1]
    )
    times = list(queued)
    if leased:
        times += (
            base.filter(status=MessageStatus.SENDING)
            .order_by("lease_until")
            .values_list("lease_until", flat=True)[:1]
        )
    times = [t for t in times if t is not None]
    return min(times) if times else None
