"""The per-worker send loop for one provider.

One dispatch task claims chunks of due messages and starts each send once it holds a global
in-flight slot and a rate reservation (see `limiter`). Every HTTP call of the task runs on one
thread's asyncio loop (`SendLoop`: `providers.sending.send_message_async` on the factory's guarded
aiohttp session), up to the provider's concurrency at once. Each send hands its result back;
results are written in batches (by a writer thread on PostgreSQL, which then starts the next sends
itself) and only then are the slots freed, so a crash can repeat at most the requests that were in
flight. No database transaction is open during an HTTP call, and the send loop never touches the
database.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from campaigns.models import Campaign, Message
from campaigns.storage import storage
from providers.kinds.base import Outcome
from providers.models import Provider

from . import claim as claiming
from .build import BuildError, CampaignContext, outbound
from .complete import campaign_complete_if_done
from .credentials import Credentials
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
from .send_loop import SendLoop

log = logging.getLogger(__name__)

REFRESH_EVERY = 1.0  # seconds between campaign-state / pause / completion checks
PENDING_EVERY = 0.5  # seconds between applying callbacks that arrived before their send was written
# A send that was held back by the rate but whose thread woke this much later than its booked time
# is booked again instead of sent late: late sends next to on-time ones would exceed the rate in a
# 1-second window. Bounded, so a message is never starved.
LATE_TOLERANCE = 0.005
RATE_BINDS_AFTER = 0.05  # seconds: a batch whose booked send times spread this far is held by the rate
MAX_REBOOKS = 3
SLOT_TTL_MARGIN = 5.0  # a slot outlives the HTTP timeouts; a dead worker's slot expires after it
DONE_REBOOK = "rebook"  # handed back by a send that woke too late; never written
STOP = object()  # tells the writer thread to finish


@dataclass
class Stats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    rebooked: int = 0  # sends booked again because their thread woke too late
    claimed: int = 0
    claims: int = 0  # claim transactions that got messages
    batches: int = 0  # result batches written
    loops: int = 0
    extra: dict = field(default_factory=dict)


class Dispatcher:
    """Runs in the task's thread; the send loop only waits for booked times and does HTTP."""

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
        # SimpleQueue: put and get in C (queue.Queue's lock and condition cost 2.5 % of a
        # dispatcher's CPU, one put per send on the send loop).
        self.results: queue.SimpleQueue[tuple[Result, str | None]] = queue.SimpleQueue()
        self.backlog: deque[Message] = deque()  # claimed, not started
        self.requests: dict[int, object] = {}  # message id -> its request, built when claimed
        self.rebooks: dict[int, int] = {}  # message id -> times its send was booked again
        self.rebooked: deque[Message] = deque()  # handed back by the send loop (thread-safe appends)
        self.reauths: set[int] = set()  # refused with the token of the time; booked again once (send loop)
        self.running = 0  # handed to the send loop, result not written yet
        self.contexts: dict[int, CampaignContext] = {}
        self.campaign_status: dict[int, str] = {}
        self.stopping = False
        self.stats = Stats()
        self.paused = 0.0
        self.callback_url = provider.callback_url
        self.sent_ids: list[str] = []  # sent since the last apply_pending()
        # With a writer thread (see run), `running` and `sent_ids` change in two threads.
        self.lock = threading.Lock()
        # Held while the backlog changes or sends are started: by the loop, and by the writer thread
        # right after it freed slots (so a freed slot does not wait for the loop to come round).
        self.start_lock = threading.Lock()
        self.sender: SendLoop | None = None
        self.progress = threading.Event()  # the writer freed slots (or stopped)
        # The latest send result that changes the provider's health, recorded (a database write) by
        # whoever writes results next: the send loop never touches the database.
        self.health_seen = None
        self.writer: threading.Thread | None = None
        self.writer_error: BaseException | None = None
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
        deadline = time.monotonic() + self.budget
        next_refresh = next_pending = 0.0
        self.sender = SendLoop(f"send-{self.provider.pk}", fallback=self.session, limit=self.max_in_flight)
        if storage().parallel_writers():
            # Results are written by a thread of their own (its own connection): a finished send's
            # slot is freed while this loop claims and starts, instead of after it. Not inside an
            # open transaction (the writer could not see its rows), and not on SQLite (one writer).
            self.writer = threading.Thread(
                target=self.write_loop, name=f"write-{self.provider.pk}", daemon=True
            )
            self.writer.start()
        try:
            try:
                while True:
                    self.stats.loops += 1
                    self.progress.clear()
                    now = time.monotonic()
                    if now >= next_refresh:
                        self.refresh()
                        next_refresh = now + REFRESH_EVERY
                    if now >= next_pending:
                        self.apply_pending()
                        next_pending = now + PENDING_EVERY
                    if now >= deadline or self.paused > 0 or self.stopping or self.writer_error:
                        break
                    blocked = self.start()
                    claimed = self.fill()
                    if claimed and not blocked:
                        blocked = self.start()
                    if not self.running and not self.backlog:
                        if claimed:
                            continue
                        wait = self.idle_wait(deadline)
                        if wait is None:
                            break
                        time.sleep(wait)
                        continue
                    timeout = 0.005 if blocked and not self.running else 0.05
                    if self.writer:
                        self.progress.wait(timeout)
                    else:
                        self.collect(timeout=timeout)
            finally:
                self.stopping = True
                self.release_unstarted()
                if self.writer:
                    while (self.running or self.rebooked) and self.writer.is_alive():
                        self.progress.wait(0.5)
                        self.progress.clear()
                        self.release_unstarted()
                    self.results.put((STOP, None))
                    self.writer.join()
                else:
                    while self.running or self.rebooked:
                        self.collect(timeout=0.5)
                        self.release_unstarted()
        finally:
            self.sender.close()
            self.session.close()
        if self.writer_error:
            raise self.writer_error
        self.apply_pending()
        self.finish_campaigns()
        return self.stats

    def add_running(self, n: int) -> None:
        with self.lock:
            self.running += n

    def write_loop(self) -> None:
        """The writer thread: writes each batch of results as soon as there is one, then frees slots."""
        try:
            while True:
                batch = [self.results.get()]
                while True:
                    try:
                        batch.append(self.results.get_nowait())
                    except queue.Empty:
                        break
                stop = any(r is STOP for r, _ in batch)
                batch = [item for item in batch if item[0] is not STOP]
                if batch:
                    freed = self.write_batch(batch, release=False)
                    if not self.stopping and (self.backlog or self.rebooked):
                        self.start(release=freed)  # the freed slots go to the next sends
                    else:
                        self.limiter.release(self.provider.pk, freed)
                    self.progress.set()
                if stop:
                    return
        except BaseException as exc:  # the loop re-raises it; leased messages are claimed again later
            log.exception("writing send results failed for provider %s", self.provider.pk)
            self.writer_error = exc
            self.stopping = True
        finally:
            self.progress.set()
            connection.close()

    def refresh(self) -> None:
        """Reload campaign states so pause / cancel take effect within a second; finish campaigns."""
        self.heartbeat()
        self.paused = self.limiter.paused_for(self.provider.pk)
        rows = Campaign.objects.filter(provider=self.provider, status__in=["sending", "paused", "cancelled"])
        self.campaign_status = dict(rows.values_list("id", "status"))
        for campaign_id in list(self.contexts):
            if self.campaign_status.get(campaign_id) != Campaign.Status.SENDING:
                del self.contexts[campaign_id]
        self.provider.refresh_from_db(fields=["concurrency", "max_rate", "health", "enabled", "archived_at"])
        # Live dispatchers split the provider's concurrency between them, so the work (and its CPU)
        # spreads over the worker processes instead of one process holding nearly every slot: the
        # one that frees a slot would otherwise take it again at once. Alone, a dispatcher takes all.
        self.share = max(1, min(self.max_in_flight, math.ceil(self.max_in_flight / (1 + self.peers()))))
        self.finish_campaigns()
        self.warm_credentials()

    def warm_credentials(self) -> None:
        """Fetch the provider's credentials here, so sends find them in memory (an OAuth
        token in `providers.auth`) instead of each asking the shared cache or the token endpoint."""
        try:
            self.provider.kind_class(self.provider).auth_headers(self.session)
        except Exception:  # noqa: BLE001 - the sends meet and report the same problem
            log.debug("credentials for provider %s not available yet", self.provider.pk, exc_info=True)

    def active_ids(self) -> list[int]:
        return [cid for cid, status in self.campaign_status.items() if status == Campaign.Status.SENDING]

    def fill(self) -> int:
        room = 2 * self.share - self.running - len(self.backlog)
        if room < max(1, self.share // 2):
            return 0
        rate = self.provider.effective_rate * self.limiter.factor(self.provider.pk)
        limit = min(room, max(self.share, int(rate * 2)))
        lease = settings.RCS_LEASE_SECONDS + limit / max(rate, 0.1)
        got = claiming.claim(
            provider_id=self.provider.pk, limit=limit, lease_seconds=lease, campaign_ids=self.active_ids()
        )
        if not got.ids:
            return 0
        built = []
        for message in got.messages:
            # Built now, not when a slot is taken: a slot's time is spent on the HTTP call only.
            try:
                self.requests[message.id] = outbound(
                    message, self.context(message.campaign_id), self.provider, callback_url=self.callback_url
                )
            except BuildError as exc:
                self.add_running(1)
                failed = Result(
                    message.id, DONE_FAILED, error_code="content", error_message=str(exc), row=message
                )
                self.results.put((failed, None))
                continue
            built.append(message)
        with self.start_lock:
            self.backlog.extend(built)
        self.stats.claimed += len(got.ids)
        self.stats.claims += 1
        return len(got.ids)

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
            self.results.put((Result(message.id, stop, row=message), None))
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
        calls = []
        for token, wait in taken:
            message = self.backlog.popleft()
            calls.append(
                (self.send_one, (message, self.requests.pop(message.id), token, now + wait, binding))
            )
        self.add_running(len(calls))
        self.sender.submit(calls)
        return len(taken) < want

    def idle_wait(self, deadline: float) -> float | None:
        """Seconds to sleep before work is due again, or None when there is nothing left to do."""
        # Leases run out only when their worker died: while another dispatcher of the provider is
        # alive, what it holds is its own to finish, and this one stops instead of polling for it.
        due = claiming.next_due_at(
            provider_id=self.provider.pk, campaign_ids=self.active_ids(), leased=not self.peers()
        )
        if due is None:
            return None
        wait = (due - timezone.now()).total_seconds()
        if wait > deadline - time.monotonic():
            return None
        return min(max(wait, 0.01), 1.0)

    def collect(self, *, timeout: float) -> None:
        batch: list[tuple[Result, str | None]] = []
        try:
            batch.append(self.results.get(timeout=timeout))
            # Take whatever else has finished, without waiting: a slot is freed only once its result
            # is written, so a wait here would hold slots idle. Batches grow by themselves under load.
            while len(batch) < self.running:
                batch.append(self.results.get_nowait())
        except queue.Empty:
            pass
        if batch:
            self.write_batch(batch)

    def write_batch(self, batch: list[tuple[Result, str | None]], *, release: bool = True) -> list[str]:
        """Store a batch of results, then free its slots; or, with `release=False`, return the slots'
        tokens for the caller to free (handed to the next sends in the same limiter call)."""
        if any(r.kind == DONE_REBOOK for r, _ in batch):
            batch = self.take_back_rebooked(batch)
            if not batch:
                return []
        results = [r for r, _ in batch]
        tokens = [t for _, t in batch if t]
        self.stats.batches += 1
        try:
            sent_ids = write_results(results)
        except BaseException:
            self.limiter.release(self.provider.pk, tokens)
            self.add_running(-len(batch))
            raise
        # Slots are freed only once results are stored: a crash repeats at most what was in flight.
        if release:
            self.limiter.release(self.provider.pk, tokens)
            tokens = []
        self.add_running(-len(batch))
        for r in results:
            if r.kind == DONE_SENT:
                self.stats.sent += 1
            elif r.kind == DONE_FAILED:
                self.stats.failed += 1
            elif r.kind == DONE_RETRY:
                self.stats.retried += 1
            else:
                self.stats.released += 1
        if any(r.throttled for r in results):
            self.limiter.slow_down(self.provider.pk)  # a 429 slows every worker of the provider
        if any(r.kind == DONE_RETRY and r.free for r in results):
            # Our own credentials problem: messages stay queued, the provider's dispatch pauses.
            self.limiter.pause(self.provider.pk, settings.RCS_AUTH_PAUSE_SECONDS)
        with self.lock:
            self.sent_ids += sent_ids
            seen, self.health_seen = self.health_seen, None
        if seen is not None:
            from providers.sending import record_provider_health

            record_provider_health(self.provider, seen)
        return tokens

    def take_back_rebooked(self, batch: list[tuple[Result, str | None]]) -> list[tuple[Result, str | None]]:
        """Sends handed back for a new booking: free their slots. The messages wait in `rebooked` until
        `start` puts them first in the backlog (which changes only under `start_lock`)."""
        tokens = [t for r, t in batch if r.kind == DONE_REBOOK and t]
        self.limiter.release(self.provider.pk, tokens)
        back = [r for r, _ in batch if r.kind == DONE_REBOOK]
        self.add_running(-len(back))
        self.stats.rebooked += len(back)
        return [(r, t) for r, t in batch if r.kind != DONE_REBOOK]

    def release_unstarted(self) -> None:
        """Stopping: claimed messages not (or no longer) being sent go back to the queue."""
        with self.start_lock:
            self._release_unstarted()

    def _release_unstarted(self) -> None:
        while self.rebooked:
            self.backlog.append(self.rebooked.popleft())
        while self.backlog:
            message = self.backlog.popleft()
            self.requests.pop(message.id, None)
            self.add_running(1)
            self.results.put((Result(message.id, DONE_RELEASE, row=message), None))

    def apply_pending(self) -> None:
        """Apply callbacks that arrived before their message was written as sent (batched, twice a second)."""
        from campaigns.events import apply_pending_for

        with self.lock:
            ids, self.sent_ids = self.sent_ids, []
        if ids:
            apply_pending_for(ids)

    def finish_campaigns(self) -> None:
        candidates = Campaign.objects.filter(
            id__in=self.active_ids(), processed_count__gte=F("total_count")
        ).values_list("id", flat=True)
        for campaign_id in candidates:
            if campaign_complete_if_done(campaign_id=campaign_id):
                self.campaign_status[campaign_id] = Campaign.Status.COMPLETED

    def context(self, campaign_id: int | None) -> CampaignContext | None:
        if campaign_id is None:
            return None
        ctx = self.contexts.get(campaign_id)
        if ctx is None:
            campaign = Campaign.objects.select_related("template").get(pk=campaign_id)
            campaign.provider = self.provider
            ctx = self.contexts[campaign_id] = CampaignContext.load(campaign)
        return ctx

    def stopped(self, message: Message) -> str | None:
        """Why this claimed message must not be sent now (campaign paused or cancelled), if so."""
        if message.campaign_id is None:
            return DONE_RELEASE if self.stopping else None
        status = self.campaign_status.get(message.campaign_id)
        if status == Campaign.Status.CANCELLED:
            return DONE_CANCEL
        if status != Campaign.Status.SENDING or self.stopping:
            return DONE_RELEASE
        return None

    # -- the send loop: no database access -----------------------------------------------------------
    async def send_one(self, message: Message, request, token: str, start_at: float, held_back: bool) -> None:
        from providers.sending import health_change, refused_again, send_message_async

        try:
            # Credentials before the booked time, not after it: the sends that waited past their
            # booked times for one token fetch all went out together when it came (54 in a second
            # at 50/s). One that still waited too long is booked again, like a late rate-held send.
            waited = problem = None
            if not self.credentials.ready():
                waited, problem = True, await self.credentials.fetch()
            delay = start_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            result = sent = None
            if stop := self.stopped(message):
                result = Result(message.id, stop)
            elif problem is not None:
                sent = problem
            elif (held_back or waited) and self.too_late(message, start_at):
                result = self.book_again(message, request)
            else:
                attempt = await send_message_async(
                    self.provider,
                    request,
                    client=self.sender.client,
                    session=self.session,
                    resend_on_reauth=False,
                )
                if attempt.result.outcome == Outcome.REAUTH and message.id not in self.reauths:
                    # Refused: a new token, then the resend is booked like any other send (sent at
                    # once, it was a request the rate never counted).
                    self.reauths.add(message.id)
                    sent = await self.credentials.fetch(refused=attempt.request.headers)
                    if sent is None:
                        result = self.book_again(message, request)
                else:
                    if message.id in self.reauths:
                        self.reauths.discard(message.id)
                        attempt = refused_again(attempt)
                    sent = attempt.result
            if result is None:
                if health_change(self.provider, sent):
                    with self.lock:
                        self.health_seen = sent
                result = self.interpret(message, sent)
        except Exception as exc:  # a bug must not strand the message: it goes back to the queue
            log.exception("send of %s failed unexpectedly", message.msg_id)
            result = Result(message.id, DONE_RETRY, error_code="engine", error_message=str(exc)[:300])
        result.row = message  # as claimed: written in one statement if unchanged since (results)
        self.results.put((result, token))

    def book_again(self, message: Message, request) -> Result:
        """Hand the send back to be booked again (its slot is freed, `start` books it first)."""
        self.requests[message.id] = request
        self.rebooked.append(message)
        return Result(message.id, DONE_REBOOK)

    def too_late(self, message: Message, start_at: float) -> bool:
        """Whether a rate-held send woke so late that sending now could break the rate (LATE_TOLERANCE)."""
        interval = 1 / max(self.provider.effective_rate, 0.1)
        if time.monotonic() - start_at <= max(LATE_TOLERANCE, interval):
            self.rebooks.pop(message.id, None)
            return False
        count = self.rebooks.get(message.id, 0)
        if count >= MAX_REBOOKS:
            self.rebooks.pop(message.id, None)
            return False
        self.rebooks[message.id] = count + 1
        return True

    def interpret(self, message: Message, result) -> Result:
        # The provider's health is recorded by write_batch (health_seen), not in this thread.
        if result.provider_unhealthy and result.outcome == Outcome.RETRY:
            self.stopping = True  # collect() pauses the provider (database work stays in the main thread)
            return Result(
                message.id,
                DONE_RETRY,
                error_code=result.error_code,
                error_message=result.error_message,
                retry_after=settings.RCS_AUTH_PAUSE_SECONDS,
                free=True,
            )
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
            throttled=result.throttled,
        )
