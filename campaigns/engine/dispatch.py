"""The per-worker dispatcher for one provider: a one-way pipeline of three parts.

    claimer (claimer.py) -> send loop (send_loop.py) -> result writer (writer.py)

The claimer leases due messages and builds their requests (the backlog). The dispatcher starts a
send from the backlog once it holds a global in-flight slot and a booked send time (`limiter`, one
call per batch) and hands it to the send loop, which makes every HTTP call on one asyncio loop and
never touches the database. Each send's result goes to the result writer, which stores results in
batches (on a thread and connection of its own where the storage allows it) and only then frees
their slots, so a crash can repeat at most the requests that were in flight. No transaction is open
during an HTTP call.

Shared between the threads, and guarded: `running` (handed past the backlog, result not stored
yet; `lock`), and the backlog with the sends handed back for a new booking (`start_lock`: the
dispatcher's loop, and the writer thread starting the next sends right after it freed slots).
"""

from __future__ import annotations

import gc
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

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
from .results import DONE_RELEASE, Result
from .send_loop import Sender, SendLoop
from .writer import ResultWriter, Stats

log = logging.getLogger(__name__)

REFRESH_EVERY = 1.0  # seconds between campaign-state / pause / completion checks
PENDING_EVERY = 0.5  # seconds between applying callbacks that arrived before their send was written
RATE_BINDS_AFTER = 0.05  # seconds: a batch whose booked send times spread this far is held by the rate
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
        # This dispatcher's share of the provider's concurrency (see refresh).
        self.share = self.max_in_flight
        self.stats = Stats()
        self.claimer = Claimer(provider)
        self.writer = ResultWriter(
            provider,
            self.limiter,
            stats=self.stats,
            done=lambda n: self.add_running(-n),
            after_write=self.refill,
        )
        self.backlog: deque[Message] = deque()  # claimed, not started
        self.requests: dict[int, object] = {}  # message id -> its request, built when claimed
        self.rebooked: deque[Message] = deque()  # handed back by the send loop (thread-safe appends)
        self.running = 0
        self.campaigns = CampaignStates(provider.pk)
        self.stopping = False
        self.paused = 0.0
        self.lock = threading.Lock()
        self.start_lock = threading.Lock()
        self.loop: SendLoop | None = None
        self.sender: Sender | None = None
        self.slot_ttl = settings.OUTBOUND_CONNECT_TIMEOUT + settings.OUTBOUND_READ_TIMEOUT + SLOT_TTL_MARGIN

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
            rebook=self.rebook,
            halt=self.halt,
            outbox=self.writer.put,
        )
        if storage().parallel_writers():
            self.writer.start_thread()  # a finished send's slot is freed while this loop claims
        try:
            try:
                self._loop(time.monotonic() + self.budget)
            finally:
                self.stopping = True
                self.release_unstarted()
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
            blocked = self.start()
            claimed = self.fill()
            if claimed and not blocked:
                blocked = self.start()
            if not self.running and not self.backlog:
                if claimed:
                    continue
                wait = self.idle_wait(deadline)
                if wait is None:
                    return
                time.sleep(wait)
                continue
            timeout = 0.005 if blocked and not self.running else 0.05
            if self.writer.threaded:
                self.writer.progress.wait(timeout)
            else:
                self.writer.collect(timeout=timeout, running=self.running)

    def _drain(self) -> None:
        """Stopping: wait until every result handed out is stored, then stop the writer."""
        if self.writer.threaded:
            while (self.running or self.rebooked) and self.writer.alive():
                self.writer.progress.wait(0.5)
                self.writer.progress.clear()
                self.release_unstarted()
            self.writer.stop()
        else:
            while self.running or self.rebooked:
                self.writer.collect(timeout=0.5, running=self.running)
                self.release_unstarted()

    def add_running(self, n: int) -> None:
        with self.lock:
            self.running += n

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
        self.share = max(1, min(self.max_in_flight, math.ceil(self.max_in_flight / (1 + self.peers()))))
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
        room = 2 * self.share - self.running - len(self.backlog)
        if room < max(1, self.share // 2):
            return 0
        rate = self.provider.effective_rate * self.limiter.factor(self.provider.pk)
        limit = min(room, max(self.share, int(rate * 2)))
        lease = settings.RCS_LEASE_SECONDS + limit / max(rate, 0.1)
        ready, failed = self.claimer.claim(
            limit=limit, lease_seconds=lease, campaign_ids=self.campaigns.sending()
        )
        if failed:
            self.add_running(len(failed))
            for result in failed:
                self.writer.put(result)
        for message, request in ready:
            self.requests[message.id] = request
        with self.start_lock:
            self.backlog.extend(message for message, _ in ready)
        claimed = len(ready) + len(failed)
        if claimed:
            self.stats.claimed += claimed
            self.stats.claims += 1
        return claimed

    def start(self, *, release: Sequence[str] = ()) -> bool:
        """Start sends while slots are free; True when the provider's global limit blocked us.
        `release`: slots to free first, in the same limiter call (a batch the writer just stored)."""
        with self.start_lock:
            return self._start(release)

    def _start(self, release: Sequence[str]) -> bool:
        provider = self.provider
        while self.rebooked:  # handed back by the send loop: booked again first
            self.backlog.appendleft(self.rebooked.popleft())
        while self.backlog and (stop := self.stopped(self.backlog[0])):
            self.add_running(1)
            message = self.backlog.popleft()
            self.requests.pop(message.id, None)
            self.writer.put(Result(message.id, stop, row=message))
        want = min(len(self.backlog), self.share - self.running)
        if want <= 0:
            self.limiter.release(provider.pk, list(release))
            return False
        taken = self.limiter.take(
            provider.pk,
            limit=provider.effective_concurrency,
            ttl=self.slot_ttl,
            rate=provider.effective_rate,
            n=want,
            release=release,
        )
        now = time.monotonic()
        # The rate binds when it spreads this batch's sends out (or other sends were booked ahead):
        # only then can a late send bunch with on-time ones above the rate.
        binding = bool(taken) and (taken[0][1] > 0 or taken[-1][1] >= RATE_BINDS_AFTER)
        send, calls = self.sender.send, []
        for token, wait in taken:
            message = self.backlog.popleft()
            calls.append((send, (message, self.requests.pop(message.id), token, now + wait, binding)))
        self.add_running(len(calls))
        self.loop.submit(calls)
        return len(taken) < want

    def refill(self, freed: list[str]) -> None:
        """The writer stored a batch: its slots go to the next sends (or back to the limiter)."""
        if not self.stopping and (self.backlog or self.rebooked):
            self.start(release=freed)
        else:
            self.limiter.release(self.provider.pk, freed)

    def rebook(self, message: Message, request) -> None:
        """A send that woke too late (send loop): `start` books it again first."""
        self.requests[message.id] = request
        self.rebooked.append(message)

    def halt(self) -> None:
        """The provider's own credentials failed (send loop): start nothing more in this run."""
        self.stopping = True

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

    def release_unstarted(self) -> None:
        """Stopping: claimed messages not (or no longer) being sent go back to the queue."""
        with self.start_lock:
            while self.rebooked:
                self.backlog.append(self.rebooked.popleft())
            while self.backlog:
                message = self.backlog.popleft()
                self.requests.pop(message.id, None)
                self.add_running(1)
                self.writer.put(Result(message.id, DONE_RELEASE, row=message))

    def apply_pending(self) -> None:
        """Twice a second: apply callbacks that arrived before their message was written as sent, and a
        batch of the provider's other pending callbacks (the dispatch tasks may hold every worker while
        the applier task waits for one: the campaign's counters follow its callbacks all the same)."""
        from campaigns.events import apply_pending_for, apply_pending_of

        if ids := self.writer.take_sent():
            apply_pending_for(ids)
        apply_pending_of(provider_id=self.provider.pk)

    def stopped(self, message: Message) -> str | None:
        """Why this claimed message must not be sent now (campaign paused or cancelled), if so."""
        return self.campaigns.stopped(message, stopping=self.stopping)
