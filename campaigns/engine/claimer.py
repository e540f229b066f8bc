"""The claimer: leases due messages for one dispatcher and builds each one's request.

Contract: `claim(limit=, lease_seconds=, campaign_ids=)` returns the claimed messages that are
ready to send, each with its request (`build.outbound`), and a failed `Result` for each one whose
content cannot be built. Database: the claim's one short transaction (`claim.claim`, through the
storage) and each campaign's context, loaded once per campaign while it sends (`forget` drops the
others). Requests are built here, not when a slot is taken: a slot's time is spent on HTTP only.
"""

from __future__ import annotations

from collections.abc import Iterable

from campaigns.models import Campaign, Message
from providers.models import Provider

from . import claim as claiming
from .build import BuildError, CampaignContext, outbound
from .results import DONE_FAILED, Result


class Claimer:
    def __init__(self, provider: Provider):
        self.provider = provider
        self.callback_url = provider.callback_url
        self.contexts: dict[int, CampaignContext] = {}

    def claim(
        self, *, limit: int, lease_seconds: float, campaign_ids: list[int]
    ) -> tuple[list[tuple[Message, object]], list[Result]]:
        got = claiming.claim(
            provider_id=self.provider.pk, limit=limit, lease_seconds=lease_seconds, campaign_ids=campaign_ids
        )
        ready, failed = [], []
        for message in got.messages:
            try:
                request = outbound(
                    message, self.context(message.campaign_id), self.provider, callback_url=self.callback_url
                )
            except BuildError as exc:
                failed.append(
                    Result(message.id, DONE_FAILED, error_code="content", error_message=str(exc), row=message)
                )
                continue
            ready.append((message, request))
        return ready, failed

    def forget(self, sending: Iterable[int]) -> None:
        """Drop the contexts of campaigns not in `sending` (paused, cancelled, finished)."""
        keep = set(sending)
        for campaign_id in list(self.contexts):
            if campaign_id not in keep:
                del self.contexts[campaign_id]

    def context(self, campaign_id: int | None) -> CampaignContext | None:
        if campaign_id is None:
            return None
        ctx = self.contexts.get(campaign_id)
        if ctx is None:
            campaign = Campaign.objects.select_related("template").get(pk=campaign_id)
            campaign.provider = self.provider
            ctx = self.contexts[campaign_id] = CampaignContext.load(campaign)
        return ctx
