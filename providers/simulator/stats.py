"""Measurement per sender ID / agent: requests, msgIds, concurrency and rate.

Every update runs on the simulator's event loop thread, so plain counters are exact under any
number of concurrent requests; readers from other threads go through the loop (see runner.py).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any


class Counter:
    """The figures for one sender ID (or for all of them together)."""

    def __init__(self) -> None:
        self.total = 0
        self.msg_ids: set[str] = set()
        self.duplicates = 0  # requests whose msgId was seen before (retries and double sends)
        self.accepted: set[str] = set()
        self.duplicate_accepted = 0  # successful sends of a msgId that was already accepted
        self.in_flight = 0
        self.max_in_flight = 0
        self.windows: dict[int, int] = {}  # epoch second -> requests received in it
        self.recent: deque[float] = deque()  # monotonic arrival times within the last second
        self.max_sliding = 0
        self.responses: dict[str, int] = {}
        self.first_at: float | None = None
        self.last_at: float | None = None

    def begin(self, msg_id: str | None, now: float, mono: float) -> None:
        self.total += 1
        if msg_id is not None:
            if msg_id in self.msg_ids:
                self.duplicates += 1
            else:
                self.msg_ids.add(msg_id)
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight
        second = int(now)
        self.windows[second] = self.windows.get(second, 0) + 1
        recent = self.recent
        recent.append(mono)
        while recent[0] <= mono - 1.0:
            recent.popleft()
        if len(recent) > self.max_sliding:
            self.max_sliding = len(recent)
        if self.first_at is None:
            self.first_at = now
        self.last_at = now

    def end(self, status: int | str) -> None:
        self.in_flight -= 1
        key = str(status)
        self.responses[key] = self.responses.get(key, 0) + 1

    def accept(self, msg_id: str) -> bool:
        """Record a successful send; False when this msgId had already been accepted."""
        if msg_id in self.accepted:
            self.duplicate_accepted += 1
            return False
        self.accepted.add(msg_id)
        return True

    def as_dict(self) -> dict[str, Any]:
        elapsed = (self.last_at - self.first_at) if self.first_at is not None else 0.0
        return {
            "total_requests": self.total,
            "unique_msg_ids": len(self.msg_ids),
            "duplicate_msg_ids": self.duplicates,
            "accepted": len(self.accepted),
            "duplicate_accepted": self.duplicate_accepted,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "per_second": {str(k): v for k, v in sorted(self.windows.items())},
            "max_per_second": max(self.windows.values(), default=0),
            "max_per_sliding_second": self.max_sliding,
            "responses": dict(sorted(self.responses.items())),
            "first_at": self.first_at,
            "last_at": self.last_at,
            "average_per_second": round(self.total / elapsed, 1) if elapsed >= 1 else float(self.total),
        }


class Stats:
    """All requests to the send endpoints, per sender and in total, plus token and callback counts."""

    def __init__(self) -> None:
        self.all = Counter()
        self.senders: dict[str, Counter] = {}
        self.token_requests = 0
        self.tokens_issued = 0
        self.callbacks = {"posted": 0, "retried": 0, "failed": 0, "rejected": 0, "duplicated": 0, "clicks": 0}

    def begin(self, sender: str, msg_id: str | None) -> Counter:
        now, mono = time.time(), time.monotonic()
        counter = self.senders.get(sender)
        if counter is None:
            counter = self.senders[sender] = Counter()
        self.all.begin(msg_id, now, mono)
        counter.begin(msg_id, now, mono)
        return counter

    def end(self, counter: Counter, status: int | str) -> None:
        self.all.end(status)
        counter.end(status)

    def accept(self, counter: Counter, msg_id: str) -> bool:
        counter.accept(msg_id)
        return self.all.accept(msg_id)

    def as_dict(self, sender: str | None = None) -> dict[str, Any]:
        if sender is not None:
            counter = self.senders.get(sender)
            return {"sender_id": sender, **(counter or Counter()).as_dict()}
        return {
            **self.all.as_dict(),
            "token_requests": self.token_requests,
            "tokens_issued": self.tokens_issued,
            "callbacks": dict(self.callbacks),
            "senders": {name: c.as_dict() for name, c in sorted(self.senders.items())},
        }
