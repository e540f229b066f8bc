"""The starter: claimed messages wait in its backlog until a slot and a send time are booked for them.

Contract: `add(ready)` queues claimed messages with their requests; `start(share=)` books, in one
limiter call, a global in-flight slot and a send time for as many of them as the dispatcher's share
allows and hands them to the send loop; `refill(freed)` (the result writer, after it stored a batch)
passes the batch's slots straight to the next sends; `rebook` takes back a send that woke too late;
`release_unstarted` hands everything not started to the writer to be released. `running` counts
the sends handed past the backlog whose result is not stored yet (`lock`); the backlog and the
rebooked sends are guarded by `start_lock` (the dispatcher's loop, and the writer thread starting
the next sends right after it freed slots). No database access here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from campaigns.models import Message

from .limiter import Limiter
from .results import DONE_RELEASE, Result

RATE_BINDS_AFTER = 0.05  # seconds: a batch whose booked send times spread this far is held by the rate


class Starter:
    def __init__(self, provider, limiter: Limiter, *, put: Callable, stopped: Callable, slot_ttl: float):
        self.provider = provider
        self.limiter = limiter
        self.put = put  # the result writer's inbox
        self.stopped = stopped  # why a claimed message must not be sent now, if so
        self.slot_ttl = slot_ttl
        self.backlog: deque[Message] = deque()  # claimed, not started
        self.requests: dict[int, object] = {}  # message id -> its request, built when claimed
        self.rebooked: deque[Message] = deque()  # handed back by the send loop (thread-safe appends)
        self.running = 0
        self.share = 1
        self.stopping = False
        self.lock = threading.Lock()
        self.start_lock = threading.Lock()
        self.loop = None
        self.sender = None

    def attach(self, sender, loop) -> None:
        self.sender, self.loop = sender, loop

    def add_running(self, n: int) -> None:
        with self.lock:
            self.running += n

    def add(self, ready: list[tuple[Message, object]]) -> None:
        for message, request in ready:
            self.requests[message.id] = request
        with self.start_lock:
            self.backlog.extend(message for message, _ in ready)

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
            self.put(Result(message.id, stop, row=message))
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

    def release_unstarted(self) -> None:
        """Stopping: claimed messages not (or no longer) being sent go back to the queue."""
        with self.start_lock:
            while self.rebooked:
                self.backlog.append(self.rebooked.popleft())
            while self.backlog:
                message = self.backlog.popleft()
                self.requests.pop(message.id, None)
                self.add_running(1)
                self.put(Result(message.id, DONE_RELEASE, row=message))
