"""Handing due messages to one worker: a short transaction and a lease (`Storage.claim`).

Concurrent workers take disjoint rows without waiting. A message whose lease ran out (its worker
died) is due again and is claimed with the same msgId: that is how a lease expires. The transition
itself (queued, or sending with its lease run out, -> sending) is `state.CLAIM`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from campaigns.models import Campaign
from campaigns.storage import Claim, storage


def active_campaign_ids(provider_id: int) -> list[int]:
    return list(
        Campaign.objects.filter(provider_id=provider_id, status=Campaign.Status.SENDING).values_list(
            "id", flat=True
        )
    )


def claim(
    *, provider_id: int, limit: int, lease_seconds: float, campaign_ids: list[int] | None = None
) -> Claim:
    """Lease up to `limit` due messages of the provider's sending campaigns (and transactional ones)."""
    if campaign_ids is None:
        campaign_ids = active_campaign_ids(provider_id)
    now = timezone.now()
    return storage().claim(
        provider_id=provider_id,
        limit=limit,
        campaign_ids=list(campaign_ids),
        now=now,
        lease_until=now + timedelta(seconds=lease_seconds),
    )


def next_due_at(*, provider_id: int, campaign_ids: list[int], leased: bool = True) -> datetime | None:
    """When the next message of the provider becomes due: a retry, or (`leased`) a lease running out."""
    return storage().next_due_at(provider_id=provider_id, campaign_ids=campaign_ids, leased=leased)
