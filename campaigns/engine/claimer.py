"""The claimer: leases due messages for one dispatcher and builds each one's request.

Contract: `claim(limit=, lease_seconds=, campaign_ids=)` returns the claimed messages that are
ready to send, each with its request (`build.outbound`), and a `Result` for each one that is not
sent now: failed when its content cannot be built; for a campaign with send rules
(`campaigns.sendrules`, loaded with the campaign's context) waiting for its window, skipped
(frequency cap, opted out) or expired. A campaign without rules takes none of those checks.
Database: the claim's one short transaction (`claim.claim`, through the storage), each campaign's
context, loaded once per campaign while it sends (`forget` drops the others), and with a frequency
cap the cap's transaction per claim (the opt-out check reads what the claim loaded). Requests are built
here, not when a slot is taken: a slot's time is spent on HTTP only.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from campaigns import sendrules, state
from campaigns.models import Campaign, Message
from providers.models import Provider

from . import claim as claiming
from .build import BuildError, CampaignContext, outbound
from .results import DONE_EXPIRE, DONE_FAILED, DONE_SKIP, DONE_WAIT, Result


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
        ready, failed, ruled = [], [], []
        for message in got.messages:
            ctx = self.context(message.campaign_id)
            if ctx is not None and ctx.rules is not None:
                ruled.append(message)
                continue
            self._build(message, ctx, ready, failed)
        if ruled:
            for message in self._apply_rules(ruled, failed):
                self._build(message, self.contexts[message.campaign_id], ready, failed)
        return ready, failed

    def _build(self, message: Message, ctx: CampaignContext | None, ready: list, failed: list) -> None:
        try:
            request = outbound(message, ctx, self.provider, callback_url=self.callback_url)
        except BuildError as exc:
            failed.append(
                Result(message.id, DONE_FAILED, error_code="content", error_message=str(exc), row=message)
            )
            return
        ready.append((message, request))

    def _apply_rules(self, messages: list[Message], held: list[Result]) -> list[Message]:
        """The send rules for claimed messages of campaigns that have them: those that may go now
        are returned; the others' results (wait, skip, expire) are added to `held`."""
        now = timezone.now()
        rules = {m.id: self.contexts[m.campaign_id].rules for m in messages}
        go, capped = [], []
        for message in messages:
            rule = rules[message.id]
            if rule.expires_at is not None and now >= rule.expires_at:
                held.append(Result(message.id, DONE_EXPIRE, row=message))
                continue
            if rule.opt_outs and _unsubscribed(message):
                held.append(_skip(message, state.SKIP_OPTED_OUT, "The contact unsubscribed."))
                continue
            if rule.timed:
                attributes = message.contact.attributes if message.contact_id and message.contact else {}
                opening = rule.next_opening(now, message.to, attributes)
                if opening is not None:
                    held.append(Result(message.id, DONE_WAIT, row=message, wait_until=opening))
                    continue
            if rule.cap:
                capped.append((message, rule.cap, rule.period))
            go.append(message)
        if capped:
            allowed = sendrules.check_and_record(capped, now)
            over = {m.id for m, _, _ in capped} - allowed
            if over:
                for message in go:
                    if message.id in over:
                        held.append(_skip(message, state.SKIP_FREQUENCY_CAP, "Frequency cap reached."))
                go = [m for m in go if m.id not in over]
        return go

    def forget(self, sending: Iterable[int]) -> None:
        """Drop the contexts of campaigns not in `sending` (paused, cancelled, finished)."""
        keep = set(sending)
        for campaign_id in list(self.contexts):
            if campaign_id not in keep:
                del self.contexts[campaign_id]

    def timed_campaigns(self) -> list[int]:
        """The loaded campaigns with a send window or quiet hours."""
        return [cid for cid, ctx in self.contexts.items() if ctx.rules is not None and ctx.rules.timed]

    def context(self, campaign_id: int | None) -> CampaignContext | None:
        if campaign_id is None:
            return None
        ctx = self.contexts.get(campaign_id)
        if ctx is None:
            campaign = Campaign.objects.select_related("template").get(pk=campaign_id)
            campaign.provider = self.provider
            ctx = self.contexts[campaign_id] = CampaignContext.load(campaign)
            ctx.rules = sendrules.for_campaign(campaign)
        return ctx


def _unsubscribed(message: Message) -> bool:
    """The contact unsubscribed (or replied STOP) since the fan-out (the claim loads `subscribed`)."""
    return message.contact_id is not None and message.contact is not None and not message.contact.subscribed


def _skip(message: Message, reason: str, text: str) -> Result:
    return Result(message.id, DONE_SKIP, error_code=reason, error_message=text, row=message)
