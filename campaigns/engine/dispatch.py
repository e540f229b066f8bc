"""The per-worker dispatcher for one provider: a one-way pipeline of three parts.

    claimer (claimer.py) -> send loop (send_loop.py) -> result writer (writer.py)

The claimer leases due messages and builds their requests; they wait in the starter's backlog
(starter.py), which starts a send once it holds a global in-flight slot and a booked send time
(`limiter`, one call per batch) and hands it to the send loop, which makes every HTTP call on one
asyncio loop and never touches the database. Each send's result goes to the result writer, which
stores results in batches (on a thread and connection of its own where the storage allows it) and
only then frees their slots, so a crash can repeat at most the requests that were in flight. No
transaction is open during an HTTP call.

What the threads share (the in-flight count, the backlog) lives in the starter, guarded there.
This module's loop claims, starts, and checks campaign states, pauses and completion every second.
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from campaigns.models import Message
from campaigns.sendrules import release_due
from campaigns.storage import storage
from providers.models import Provider

from . import claim as claiming
from .campaign_states import CampaignStates
from .claimer import Claimer
from .credentials import Credentials
from .limiter import Limiter, get_limiter
from .send_loop import Sender, SendLoop
from .starter import Starter
from .writer import ResultWriter, Stats

log = logging.getLogger(__name__)

REFRESH_EVERY = 1.0  # seconds between campaign-state / pause / completion checks
PENDING_EVERY = 0.5  # seconds between applying callbacks that arrived before their send was written
SLOT_TTL_MARGIN = 5.0  # a slot outlives the HTTP timeouts; a dead worker's slot expires after it

__all__ = ["Dispatcher", "Stats"]


class Dispatcher:
    """Runs in the task's thread: claims, starts sends, and checks campaign states every second."""

    def __init__(
        self,
        provider: Provider,
        *,
        budget: float,
        limiter: Limiter | None = None,
        heartbeat: Callable[[], None] = lambda: None,
        peers: Callable[[], int] = lambda: 0,
    ):
        self.provider = provider
        self.heartbeat = heartbeat
        self.peers = peers  # how many other dispatchers of the provider are running
        self.limiter = limiter or get_limiter()
        self.budget = budget
        self.max_in_flight = max(1, min(provider.effective_concurrency, settings.RCS_MAX_IN_FLIGHT))
        self.stats = Stats()
        self.claimer = Claimer(provider)
        self.writer = ResultWriter(
            provider,
            self.limiter,
            stats=self.stats,
            done=lambda n: self.starter.add_running(-n),
            after_write=lambda freed: self.starter.refill(freed),
        )
        self.slot_ttl = settings.OUTBOUND_CONNECT_TIMEOUT + settings.OUTBOUND_READ_TIMEOUT + SLOT_TTL_MARGIN
        self.starter = Starter(
            provider, self.limiter, put=self.writer.put, stopped=self.stopped, slot_ttl=self.slot_ttl
        )
        # This dispatcher's share of the provider's concurrency (see refresh).
        self.starter.share = self.max_in_flight
        self.campaigns = CampaignStates(provider.pk)
        self.paused = 0.0
        self.loop: SendLoop | None = None
        self.sender: Sender | None = None

    @property
    def share(self) -> int:
        return self.starter.share

    @property
    def stopping(self) -> bool:
        return self.starter.stopping

    def run(self) -> Stats:
        # What the process holds already (Django, the modules, the caches) is frozen out of the
        # garbage collector for the run: a full collection would otherwise walk all of it, a stop of
        # 60-75 ms of every thread here (measured), with each slot's request held the whole time.
        # Only what the run itself allocates is collected; unfrozen again at the end.
        gc.freeze()
        try:
            return self._run()
        finally:
            gc.unfreeze()

    def _run(self) -> Stats:
        from rcsconnect.http import outbound_session

        self.session = outbound_session(pool_size=self.max_in_flight)
        self.credentials = Credentials(self.provider, self.session)
        self.loop = SendLoop(f"send-{self.provider.pk}", fallback=self.session, limit=self.max_in_flight)
        self.sender = Sender(
            self.provider,
            session=self.session,
            client=self.loop.client,
            credentials=self.credentials,
            stopped=self.stopped,
            rebook=self.starter.rebook,
            halt=self.halt,
            outbox=self.writer.put,
        )
        self.starter.attach(self.sender, self.loop)
        if storage().parallel_writers():
            self.writer.start_thread()  # a finished send's slot is freed while this loop claims
        try:
            try:
                self._loop(time.monotonic() + self.budget)
            finally:
                self.starter.stopping = True
                self.starter.release_unstarted()
                self._drain()
        finally:
            self.loop.close()
            self.session.close()
        if self.writer.error:
            raise self.writer.error
        self.apply_pending()
        self.campaigns.finish()
        return self.stats

    def _loop(self, deadline: float) -> None:
        next_refresh = next_pending = 0.0
        while True:
            self.stats.loops += 1
            self.writer.progress.clear()
            now = time.monotonic()
            if now >= next_refresh:
                self.refresh()
                next_refresh = now + REFRESH_EVERY
            if now >= next_pending:
                self.apply_pending()
                next_pending = now + PENDING_EVERY
            if now >= deadline or self.paused > 0 or self.stopping or self.writer.error:
                return
            blocked = self.starter.start()
            claimed = self.fill()
            if claimed and not blocked:
                blocked = self.starter.start()
            if not self.starter.running and not self.starter.backlog:
                if claimed:
                    continue
                wait = self.idle_wait(deadline)
                if wait is None:
                    return
                time.sleep(wait)
                continue
            timeout = 0.005 if blocked and not self.starter.running else 0.05
            if self.writer.threaded:
                self.writer.progress.wait(timeout)
            else:
                self.writer.collect(timeout=timeout, running=self.starter.running)

    def _drain(self) -> None:
        """Stopping: wait until every result handed out is stored, then stop the writer."""
        if self.writer.threaded:
            while (self.starter.running or self.starter.rebooked) and self.writer.alive():
                self.writer.progress.wait(0.5)
                self.writer.progress.clear()
                self.starter.release_unstarted()
            self.writer.stop()
        else:
            while self.starter.running or self.starter.rebooked:
                self.writer.collect(timeout=0.5, running=self.starter.running)
                self.starter.release_unstarted()

    def refresh(self) -> None:
        """Reload campaign states so pause / cancel take effect within a second; finish campaigns."""
        self.heartbeat()
        self.paused = self.limiter.paused_for(self.provider.pk)
        self.campaigns.reload()
        self.claimer.forget(self.campaigns.sending())
        if timed := self.claimer.timed_campaigns():  # send windows that opened (campaigns.sendrules)
            release_due(campaign_ids=timed)
        self.provider.refresh_from_db(fields=["concurrency", "max_rate", "health", "enabled", "archived_at"])
        # Live dispatchers split the provider's concurrency between them, so the work (and its CPU)
        # spreads over the worker processes instead of one process holding nearly every slot: the
        # one that frees a slot would otherwise take it again at once. Alone, a dispatcher takes all.
        share = math.ceil(self.max_in_flight / (1 + self.peers()))
        self.starter.share = max(1, min(self.max_in_flight, share))
        self.campaigns.finish()
        self.warm_credentials()

    def warm_credentials(self) -> None:
        """Fetch the provider's credentials here, so sends find them in memory (an OAuth
        token in `providers.auth`) instead of each asking the shared cache or the token endpoint."""
        try:
            self.provider.kind_class(self.provider).auth_headers(self.session)
        except Exception:  # noqa: BLE001 - the sends meet and report the same problem
            log.debug("credentials for provider %s not available yet", self.provider.pk, exc_info=True)

    def fill(self) -> int:
        """Claim into the backlog while it holds less than two shares' worth; how many were claimed."""
        room = 2 * self.share - self.starter.running - len(self.starter.backlog)
        if room < max(1, self.share // 2):
            return 0
        rate = self.provider.effective_rate * self.limiter.factor(self.provider.pk)
        limit = min(room, max(self.share, int(rate * 2)))
        lease = settings.RCS_LEASE_SECONDS + limit / max(rate, 0.1)
        ready, failed = self.claimer.claim(
            limit=limit, lease_seconds=lease, campaign_ids=self.campaigns.sending()
        )
        if failed:
            self.starter.add_running(len(failed))
            for result in failed:
                self.writer.put(result)
        self.starter.add(ready)
        claimed = len(ready) + len(failed)
        if claimed:
            self.stats.claimed += claimed
            self.stats.claims += 1
        return claimed

    def halt(self) -> None:
        """The provider's own credentials failed (send loop): start nothing more in this run."""
        self.starter.stopping = True

    def idle_wait(self, deadline: float) -> float | None:
        """Seconds to sleep before work is due again, or None when there is nothing left to do."""
        # Leases run out only when their worker died: while another dispatcher of the provider is
        # alive, what it holds is its own to finish, and this one stops instead of polling for it.
        due = claiming.next_due_at(
            provider_id=self.provider.pk, campaign_ids=self.campaigns.sending(), leased=not self.peers()
        )
        if due is None:
            return None
        wait = (due - timezone.now()).total_seconds()
        if wait > deadline - time.monotonic():
            return None
        return min(max(wait, 0.01), 1.0)

    def apply_pending(self) -> None:
        """Twice a second: apply callbacks that arrived before their message was written as sent, and a
        batch of any provider's other pending callbacks. The dispatch tasks may hold every worker
        while the applier task waits for one: then they are the applier, and every campaign's
        counters (also one that finished sending, or whose provider has no dispatcher) follow its
        callbacks all the same. Concurrent appliers take disjoint events (`campaigns.events`)."""
        from campaigns.events import apply_pending_for, apply_pending_of

        if ids := self.writer.take_sent():
            apply_pending_for(ids)
        apply_pending_of()

    def stopped(self, message: Message) -> str | None:
        """Why this claimed message must not be sent now (campaign paused or cancelled), if so."""
        return self.campaigns.stopped(message, stopping=self.stopping)
