"""Completing a campaign once every message has left the queue.

Here, below `campaigns.services` (which re-exports it), so that the dispatcher can call it without
importing the services module that starts dispatchers: the dependencies point one way,
services -> engine.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from campaigns import notify
from campaigns.models import Campaign, Message
from campaigns.state import UNFINISHED
from rcsconnect.webhooks.events import EventType, emit


def campaign_complete_if_done(*, campaign_id: int) -> bool:
    """Mark a sending campaign completed once every message has left the queue."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if not campaign or campaign.status != Campaign.Status.SENDING or campaign.fanned_out_at is None:
            return False
        if campaign.test_percent and campaign.rest_fanned_out_at is None:
            return False  # "test, then send the winner": the rest is still to be sent (experiments)
        busy = Message.objects.filter(campaign_id=campaign_id, status__in=UNFINISHED)
        if busy.exists():
            return False
        campaign.status, campaign.finished_at = Campaign.Status.COMPLETED, timezone.now()
        campaign.save(update_fields=["status", "finished_at"])
        emit(EventType.CAMPAIGN_FINISHED, [notify.campaign_finished(campaign)])  # sent after commit
    return True
