"""The send loop: one thread running an asyncio loop that makes every HTTP call of one dispatcher.

Contract: pure asyncio, no database. The dispatcher hands it sends (`submit`, from any thread);
each one (`Sender.send`) waits for its booked time, sends, and hands its `Result` and slot token to
the result writer. `close` waits for the sends still running, then closes the connections and stops
the thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from django.conf import settings

from providers.kinds.base import Outcome

from .results import DONE_FAILED, DONE_REBOOK, DONE_RETRY, DONE_SENT, Result

log = logging.getLogger(__name__)

# A send that was held back by the rate but whose coroutine woke this much later than its booked
# time is booked again instead of sent late: late sends next to on-time ones would exceed the rate in
# a 1-second window. Bounded, so a message is never starved.
LATE_TOLERANCE = 0.005
MAX_REBOOKS = 3

SendCall = tuple[Callable[..., Coroutine[Any, Any, None]], tuple]  # a coroutine function and its arguments


class SendLoop:
    """A thread running an asyncio loop that makes every HTTP call of one dispatcher.

    Up to the provider's concurrency of requests are in flight on it at once. (With a thread per
    request in flight, the dispatcher spent more CPU handing the GIL between threads than sending:
    at 100 in flight, 1.6 ms of CPU per request against 0.3 ms on one loop, on this machine.)
    Other threads hand sends over with `submit`.
    """

    def __init__(self, name: str, *, fallback, limit: int):
        from rcsconnect.http import AsyncOutbound

        self.loop = asyncio.new_event_loop()
        self.tasks: set[asyncio.Task] = set()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

        async def open_client() -> AsyncOutbound:
            return AsyncOutbound(fallback, limit=limit)

        self.client = asyncio.run_coroutine_threadsafe(open_client(), self.loop).result()

    def submit(self, calls: list[SendCall]) -> None:
        """Start these coroutines on the loop (one wake-up of the loop for the lot)."""
        if calls:
            self.loop.call_soon_threadsafe(self._spawn, calls)

    def _spawn(self, calls: list[SendCall]) -> None:
        for function, args in calls:
            task = self.loop.create_task(function(*args))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def close(self) -> None:
        """Wait for the sends still running, close the connections, stop the thread."""

        async def finish() -> None:
            while self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.client.close()
            await self.loop.shutdown_default_executor()  # the threads that fetched tokens

        # Everything runs on the loop's own thread: the caller's thread may be running a loop of
        # its own (an async caller, Playwright's sync API in tests), where this loop cannot run.
        try:
            asyncio.run_coroutine_threadsafe(finish(), self.loop).result()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
            self.loop.close()


class LateSends:
    """Whether a rate-held send woke so late that sending now could break the rate (LATE_TOLERANCE):
    such a send is booked again, at most MAX_REBOOKS times per message, so none is starved."""

    def __init__(self, provider):
        self.provider = provider
        self.rebooks: dict[int, int] = {}  # message id -> times its send was booked again

    def too_late(self, message, start_at: float) -> bool:
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


class Sender:
    """What one send does, as a coroutine on the send loop: no database.

    `send(message, request, token, start_at, held_back)` waits for the credentials and its booked
    time, sends, and puts `(Result, token)` into `outbox` (the result writer). On the way it asks
    `stopped(message)` (paused or cancelled meanwhile), hands a send that woke too late back with
    `rebook(message, request)` (a DONE_REBOOK result frees its slot), and calls `halt()` when the
    provider's own credentials failed (the dispatcher stops starting sends). A result that changes
    the provider's health carries it (`Result.health`), for the writer to record.
    """

    def __init__(self, provider, *, session, client, credentials, stopped, rebook, halt, outbox):
        self.provider, self.session, self.client, self.credentials = provider, session, client, credentials
        self.stopped, self.rebook, self.halt, self.outbox = stopped, rebook, halt, outbox
        self.late = LateSends(provider)
        self.reauths: set[int] = set()  # refused with the token of the time; booked again once

    async def send(self, message, request, token: str, start_at: float, held_back: bool) -> None:
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
            elif (held_back or waited) and self.late.too_late(message, start_at):
                result = self.book_again(message, request)
            else:
                attempt = await send_message_async(
                    self.provider, request, client=self.client, session=self.session, resend_on_reauth=False
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
                result = self.interpret(message, sent)
                if health_change(self.provider, sent):
                    result.health = sent
        except Exception as exc:  # a bug must not strand the message: it goes back to the queue
            log.exception("send of %s failed unexpectedly", message.msg_id)
            result = Result(message.id, DONE_RETRY, error_code="engine", error_message=str(exc)[:300])
        result.row = message  # as claimed: written in one statement if unchanged since (storage)
        self.outbox(result, token)

    def book_again(self, message, request) -> Result:
        """Hand the send back to be booked again (its slot is freed, the dispatcher books it first)."""
        self.rebook(message, request)
        return Result(message.id, DONE_REBOOK)

    def interpret(self, message, result) -> Result:
        if result.provider_unhealthy and result.outcome == Outcome.RETRY:
            self.halt()  # our own credentials: the writer pauses the provider's dispatch
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
