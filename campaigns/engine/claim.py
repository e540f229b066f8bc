"""Handing due messages to one worker: a short transaction and a lease.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` so concurrent workers take disjoint rows without
waiting; SQLite serialises writers (IMMEDIATE transactions) so the same statements are safe there.
A message whose lease ran out (its worker died) is due again and is claimed with the same msgId.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from campaigns.models import Campaign, Message, MessageStatus


@dataclass(frozen=True)
class Claim:
    ids: list[int]
    lease_until: datetime


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
    with transaction.atomic():
        ids = list(
            Message.objects.filter(due_filter(provider_id, campaign_ids, now))
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            Message.objects.filter(id__in=ids).update(
                status=MessageStatus.SENDING, lease_until=lease_until, attempts=F("attempts") + 1
            )
    return Claim(ids=ids, lease_until=lease_until)


def next_due_at(*, provider_id: int, campaign_ids: list[int]) -> datetime | None:
    """When the next message of the provider becomes due (a retry, or a lease running out)."""
    owners = Q(campaign__isnull=True) | Q(campaign_id__in=campaign_ids)
    base = Message.objects.filter(owners, provider_id=provider_id)
    queued = (
        base.filter(status=MessageStatus.QUEUED)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)[:1]
    )
    leased = (
        base.filter(status=MessageStatus.SENDING)
        .order_by("lease_until")
        .values_list("lease_until", flat=True)[:1]
    )
    times = [t for t in (*queued, *leased) if t is not None]
    return min(times) if times else None
