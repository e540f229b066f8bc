"""The states of a provider's campaigns as one dispatcher last saw them (reloaded every second).

Contract: `reload()` reads the provider's sending, paused and cancelled campaigns; `sending()` lists
those whose messages may be claimed; `stopped(message, stopping=)` says why a claimed message must
not be sent now (cancelled: cancel it; paused, or the dispatcher stopping: release it), or None;
`finish()` completes the sending campaigns with nothing left in the queue.
"""

from __future__ import annotations

from django.db.models import F

from campaigns.models import Campaign, Message

from .complete import campaign_complete_if_done
from .results import DONE_CANCEL, DONE_RELEASE


class CampaignStates:
    def __init__(self, provider_id: int):
        self.provider_id = provider_id
        self.status: dict[int, str] = {}

    def reload(self) -> None:
        rows = Campaign.objects.filter(
            provider_id=self.provider_id, status__in=["sending", "paused", "cancelled"]
        )
        self.status = dict(rows.values_list("id", "status"))

    def sending(self) -> list[int]:
        return [cid for cid, status in self.status.items() if status == Campaign.Status.SENDING]

    def stopped(self, message: Message, *, stopping: bool) -> str | None:
        if message.campaign_id is None:
            return DONE_RELEASE if stopping else None
        status = self.status.get(message.campaign_id)
        if status == Campaign.Status.CANCELLED:
            return DONE_CANCEL
        if status != Campaign.Status.SENDING or stopping:
            return DONE_RELEASE
        return None

    def finish(self) -> None:
        candidates = Campaign.objects.filter(
            id__in=self.sending(), processed_count__gte=F("total_count")
        ).values_list("id", flat=True)
        for campaign_id in candidates:
            if campaign_complete_if_done(campaign_id=campaign_id):
                self.status[campaign_id] = Campaign.Status.COMPLETED
