"""The per-worker send loop for one provider.

One dispatch task claims chunks of due messages and sends them on a thread pool no larger than the
provider's concurrency. Each thread takes a global in-flight slot and a rate reservation (see
`limiter`), sends through `providers.sending.send_message` on a pooled session, and hands the result
back; the loop writes results in batches and only then frees the slots, so a crash can repeat at most
the requests that were in flight. No database transaction is open during an HTTP call.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from providers.kinds.base import Outcome
from providers.models import Provider

from campaigns.models import Campaign, Message

from . import claim as claiming
from .build import BuildError, CampaignContext, outbound
from .limiter import Limiter, get_limiter
from .results import (
    DONE_CANCEL,
    DONE_FAILED,
    DONE_RELEASE,
    DONE_RETRY,
    DONE_SENT,
    Result,
    write_results,
)

log = logging.getLogger(__name__)

MESSAGE_FIELDS = ("id", "msg_id", "to", "campaign_id", "contact_id", "content", "sms_fallback", "attempts")
SLOT_TTL_MARGIN = 30.0  # a slot outlives the HTTP timeout; a dead worker's slot expires after it


@dataclass
class Stats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    claimed: int = 0
    loops: int = 0
    extra: dict = field(default_factory=dict)


class Dispatcher:
    def __init__(self, provider: Provider, *, budget: float, limiter: Limiter | None = None):
        self.provider = provider
        self.limiter = limiter or get_limiter()
        self.budget = budget
        self.threads = max(1, min(provider.effective_concurrency, settings.RCS_MAX_THREADS))
        self.results: queue.Queue[tuple[Result, str | None]] = queue.Queue()
        self.stop_sending = threading.Event()
        self.contexts: dict[int, CampaignContext] = {}
        self.campaign_status: dict[int, str] = {}
        self.in_progress = 0
        self.stats = Stats()
        self.slot_ttl = settings.OUTBOUND_CONNECT_TIMEOUT + settings.OUTBOUND_READ_TIMEOUT + SLOT_TTL_MARGIN

    # -- main loop (the task's thread) ------------------------------------------------------------
    def run(self) -> Stats:
        from rcsconnect.http import outbound_session

        self.session = outbound_session(pool_size=self.threads)
        deadline = time.monotonic() + self.budget
        next_refresh = 0.0
        with ThreadPoolExecutor(self.threads, thread_name_prefix=f"send-{self.provider.pk}") as pool:
            try:
                while True:
                    self.stats.loops += 1
                    now = time.monotonic()
                    if now >= next_refresh:
                        self.refresh()
                        next_refresh = now + 1.0
                    if now >= deadline or self.limiter.paused_for(self.provider.pk) > 0:
                        break
                    claimed = self.fill(pool)
                    if not self.in_progress:
                        if claimed:
                            continue
                        wait = self.idle_wait(deadline)
                        if wait is None:
                            break
                        time.sleep(wait)
                        continue
                    self.collect(timeout=0.05)
            finally:
                self.stop_sending.set()
                while self.in_progress:
                    self.collect(timeout=0.5)
        self.session.close()
        return self.stats

    def refresh(self) -> None:
        """Reload campaign states so pause / cancel take effect within a second."""
        rows = Campaign.objects.filter(provider=self.provider, status__in=["sending", "paused", "cancelled"])
        self.campaign_status = dict(rows.values_list("id", "status"))
        for campaign_id in list(self.contexts):
            if self.campaign_status.get(campaign_id) != Campaign.Status.SENDING:
                del self.contexts[campaign_id]
        self.provider.refresh_from_db(fields=["concurrency", "max_rate", "health", "enabled", "archived_at"])

    def active_ids(self) -> list[int]:
        return [cid for cid, status in self.campaign_status.items() if status == Campaign.Status.SENDING]

    def fill(self, pool: ThreadPoolExecutor) -> int:
        room = 2 * self.threads - self.in_progress
        if room < max(1, self.threads // 2):
            return 0
        rate = self.provider.effective_rate * self.limiter.factor(self.provider.pk)
        limit = min(room, max(self.threads, int(rate * 2)))
        lease = settings.RCS_LEASE_SECONDS + limit / max(rate, 0.1)
        got = claiming.claim(
            provider_id=self.provider.pk, limit=limit, lease_seconds=lease, campaign_ids=self.active_ids()
        )
        if not got.ids:
            return 0
        messages = (
            Message.objects.filter(id__in=got.ids)
            .select_related("contact")
            .only(*MESSAGE_FIELDS, "contact__attributes")
        )
        for message in messages:
            self.context(message.campaign_id)  # loaded here so sender threads only read it
            self.in_progress += 1
            pool.submit(self.send_one, message)
        self.stats.claimed += len(got.ids)
        return len(got.ids)

    def idle_wait(self, deadline: float) -> float | None:
        """Seconds to sleep before work is due again, or None when there is nothing left to do."""
        due = claiming.next_due_at(provider_id=self.provider.pk, campaign_ids=self.active_ids())
        if due is None:
            return None
        wait = (due - timezone.now()).total_seconds()
        remaining = deadline - time.monotonic()
        if wait > remaining:
            return None
        return min(max(wait, 0.01), 1.0)

    def collect(self, *, timeout: float) -> None:
        batch: list[tuple[Result, str | None]] = []
        try:
            batch.append(self.results.get(timeout=timeout))
            while True:
                batch.append(self.results.get_nowait())
        except queue.Empty:
            pass
        if not batch:
            return
        results = [r for r, _ in batch]
        try:
            sent_ids = write_results(results)
        finally:
            self.limiter.release(self.provider.pk, [t for _, t in batch if t])
            self.in_progress -= len(batch)
        for r in results:
            if r.kind == DONE_SENT:
                self.stats.sent += 1
            elif r.kind == DONE_FAILED:
                self.stats.failed += 1
            elif r.kind == DONE_RETRY:
                self.stats.retried += 1
            else:
                self.stats.released += 1
        if sent_ids:
            self.apply_pending(sent_ids)
        self.finish_campaigns()

    def apply_pending(self, msg_ids: list[str]) -> None:
        try:
            from campaigns.events import apply_pending_for  # owner: callbacks engineer
        except ImportError:
            return
        apply_pending_for(msg_ids)

    def finish_campaigns(self) -> None:
        from campaigns.services import campaign_complete_if_done

        candidates = Campaign.objects.filter(
            id__in=self.active_ids(), processed_count__gte=F("total_count")
        ).values_list("id", flat=True)
        for campaign_id in candidates:
            if campaign_complete_if_done(campaign_id=campaign_id):
                self.campaign_status[campaign_id] = Campaign.Status.COMPLETED

    # -- sender threads ---------------------------------------------------------------------------
    def send_one(self, message: Message) -> None:
        token = None
        try:
            result, token = self._send(message)
        except Exception as exc:  # a bug must not strand the message: it goes back to the queue
            log.exception("send of %s failed unexpectedly", message.msg_id)
            result = Result(message.id, DONE_RETRY, error_code="engine", error_message=str(exc)[:300])
        self.results.put((result, token))

    def _stopped(self, message: Message) -> str | None:
        if message.campaign_id is None:
            return DONE_RELEASE if self.stop_sending.is_set() else None
        status = self.campaign_status.get(message.campaign_id)
        if status == Campaign.Status.CANCELLED:
            return DONE_CANCEL
        if status != Campaign.Status.SENDING or self.stop_sending.is_set():
            return DONE_RELEASE
        return None

    def _send(self, message: Message) -> tuple[Result, str | None]:
        from providers.sending import send_message  # owner: providers engineer

        provider = self.provider
        if stop := self._stopped(message):
            return Result(message.id, stop), None
        token = self.limiter.acquire(
            provider.pk,
            provider.effective_concurrency,
            self.slot_ttl,
            should_stop=lambda: self._stopped(message) is not None,
        )
        if token is None:
            return Result(message.id, self._stopped(message) or DONE_RELEASE), None
        try:
            ctx = self.context(message.campaign_id)
            request = outbound(message, ctx, provider)
        except BuildError as exc:
            return Result(message.id, DONE_FAILED, error_code="content", error_message=str(exc)), token
        wait = self.limiter.reserve(provider.pk, provider.effective_rate)
        if wait > 0:
            time.sleep(wait)
        if stop := self._stopped(message):
            return Result(message.id, stop), token
        attempt = send_message(provider, request, session=self.session)
        return self.interpret(message, attempt.result), token

    def context(self, campaign_id: int | None) -> CampaignContext | None:
        if campaign_id is None:
            return None
        ctx = self.contexts.get(campaign_id)
        if ctx is None:
            campaign = Campaign.objects.select_related("template", "provider").get(pk=campaign_id)
            campaign.provider = self.provider
            ctx = self.contexts[campaign_id] = CampaignContext.load(campaign)
        return ctx

    def interpret(self, message: Message, result) -> Result:
        provider = self.provider
        if result.provider_unhealthy:
            reason = result.error_message or result.error_code or "authentication failed"
            provider.set_health(Provider.Health.UNHEALTHY, reason)
            if result.outcome == Outcome.RETRY:
                # Our own credentials problem: keep the message queued, pause the provider's dispatch.
                self.limiter.pause(provider.pk, settings.RCS_AUTH_PAUSE_SECONDS)
                return Result(
                    message.id,
                    DONE_RETRY,
                    error_code=result.error_code,
                    error_message=result.error_message,
                    retry_after=settings.RCS_AUTH_PAUSE_SECONDS,
                    free=True,
                )
        elif provider.health == Provider.Health.UNHEALTHY and result.outcome == Outcome.SENT:
            provider.set_health(Provider.Health.HEALTHY, "")
        if result.throttled:
            self.limiter.slow_down(provider.pk)
        if result.outcome == Outcome.SENT:
            return Result(message.id, DONE_SENT, vendor_id=result.vendor_id)
        if result.outcome == Outcome.FAILED:
            return Result(
                message.id, DONE_FAILED, error_code=result.error_code, error_message=result.error_message
            )
        return Result(
            message.id,
            DONE_RETRY,
            error_code=result.error_code,
            error_message=result.error_message,
            retry_after=result.retry_after,
        )
