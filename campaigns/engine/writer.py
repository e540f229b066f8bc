"""The result writer: stores the send loop's results in batches, then frees their slots.

Contract: `put(result, token)` from any thread (the send loop, the dispatcher). A batch is whatever
has finished when the writer gets to it (no fixed wait: a slot stays held until its result is
stored), written by `results.write_results` in one transaction. A slot is freed only once its
result is stored, so a crash can repeat at most the requests that were in flight.

Where it runs: with `threaded` (the storage allows parallel writers: PostgreSQL outside an open
transaction) a thread of its own, on a connection of its own, writes each batch as soon as there
is one and hands the stored batch's slot tokens to `after_write` (the dispatcher books the next
sends with them in the same limiter call); otherwise the dispatcher's thread calls `collect`.
`done(n)` tells the dispatcher that n results left the pipeline. After each batch: a 429 slows the
provider down (`Limiter.slow_down`), our own credentials problem pauses its dispatch, a result
that changed the provider's health is recorded, and the msgIds that became sent are kept for
`take_sent` (callbacks that arrived before them).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from .limiter import Limiter
from .results import DONE_FAILED, DONE_REBOOK, DONE_RETRY, DONE_SENT, Result, write_results

log = logging.getLogger(__name__)

STOP = object()  # tells the writer thread to finish
Item = tuple[Result, str | None]  # a result and its slot's token (None: no slot was taken)


@dataclass
class Stats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    released: int = 0
    rebooked: int = 0  # sends booked again because they woke too late
    claimed: int = 0
    claims: int = 0  # claim transactions that got messages
    batches: int = 0  # result batches written
    loops: int = 0
    extra: dict = field(default_factory=dict)


class ResultWriter:
    def __init__(
        self,
        provider,
        limiter: Limiter,
        *,
        stats: Stats,
        done: Callable[[int], None],
        after_write: Callable[[list[str]], None],
    ):
        self.provider, self.limiter, self.stats = provider, limiter, stats
        self.done, self.after_write = done, after_write
        # SimpleQueue: put and get in C (queue.Queue's lock and condition cost 2.5 % of a
        # dispatcher's CPU, one put per send on the send loop).
        self.queue: queue.SimpleQueue[Item] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.progress = threading.Event()  # a batch was stored (or the thread stopped)
        self.lock = threading.Lock()
        self.sent_ids: list[str] = []  # became sent since the last take_sent()

    def put(self, result: Result, token: str | None = None) -> None:
        self.queue.put((result, token))

    @property
    def threaded(self) -> bool:
        return self.thread is not None

    def start_thread(self) -> None:
        self.thread = threading.Thread(target=self._loop, name=f"write-{self.provider.pk}", daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self) -> None:
        """The thread writes what it holds, then finishes."""
        if self.thread is not None:
            self.queue.put((STOP, None))
            self.thread.join()

    def take_sent(self) -> list[str]:
        with self.lock:
            ids, self.sent_ids = self.sent_ids, []
        return ids

    def _loop(self) -> None:
        try:
            while True:
                batch = [self.queue.get()]
                while True:
                    try:
                        batch.append(self.queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(r is STOP for r, _ in batch)
                batch = [item for item in batch if item[0] is not STOP]
                if batch:
                    self.after_write(self.write(batch, release=False))
                    self.progress.set()
                if stop:
                    return
        except BaseException as exc:  # the dispatcher re-raises it; leased messages are claimed again later
            log.exception("writing send results failed for provider %s", self.provider.pk)
            self.error = exc
        finally:
            self.progress.set()
            connection.close()

    def collect(self, *, timeout: float, running: int) -> None:
        """Without a thread: wait up to `timeout` for a result, then write it with whatever else has
        finished (no more waiting: slots are freed only once their results are written)."""
        batch: list[Item] = []
        try:
            batch.append(self.queue.get(timeout=timeout))
            while len(batch) < running:
                batch.append(self.queue.get_nowait())
        except queue.Empty:
            pass
        if batch:
            self.write(batch)

    def write(self, batch: list[Item], *, release: bool = True) -> list[str]:
        """Store a batch, then free its slots; or, with `release=False`, return the slots' tokens for
        the caller to free (handed to the next sends in the same limiter call)."""
        if any(r.kind == DONE_REBOOK for r, _ in batch):
            batch = self._take_back_rebooked(batch)
            if not batch:
                return []
        results = [r for r, _ in batch]
        tokens = [t for _, t in batch if t]
        self.stats.batches += 1
        try:
            sent_ids = write_results(results)
        except BaseException:
            self.limiter.release(self.provider.pk, tokens)
            self.done(len(batch))
            raise
        if release:
            self.limiter.release(self.provider.pk, tokens)
            tokens = []
        self.done(len(batch))
        self._after(results)
        with self.lock:
            self.sent_ids += sent_ids
        return tokens

    def _after(self, results: Sequence[Result]) -> None:
        stats = self.stats
        for r in results:
            if r.kind == DONE_SENT:
                stats.sent += 1
            elif r.kind == DONE_FAILED:
                stats.failed += 1
            elif r.kind == DONE_RETRY:
                stats.retried += 1
            else:
                stats.released += 1
        if any(r.throttled for r in results):
            self.limiter.slow_down(self.provider.pk)  # a 429 slows every worker of the provider
        if any(r.kind == DONE_RETRY and r.free for r in results):
            # Our own credentials problem: messages stay queued, the provider's dispatch pauses.
            self.limiter.pause(self.provider.pk, settings.RCS_AUTH_PAUSE_SECONDS)
        seen = next((r.health for r in reversed(results) if r.health is not None), None)
        if seen is not None:
            from providers.sending import record_provider_health

            record_provider_health(self.provider, seen)

    def _take_back_rebooked(self, batch: list[Item]) -> list[Item]:
        """Sends handed back for a new booking: free their slots (the dispatcher holds the messages)."""
        back = [(r, t) for r, t in batch if r.kind == DONE_REBOOK]
        self.limiter.release(self.provider.pk, [t for _, t in back if t])
        self.done(len(back))
        self.stats.rebooked += len(back)
        return [(r, t) for r, t in batch if r.kind != DONE_REBOOK]
