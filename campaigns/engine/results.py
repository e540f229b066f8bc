"""Writing send results in batches: each result a transition of the message state machine.

Contract: `write_results(results)` stores a batch of `Result`s in one transaction through the
storage (`campaigns.storage`: lock the messages in id order, apply, store the messages, the campaign
counters, the stat buckets, and the `message.status_changed` webhook deliveries: the outbox,
rcsconnect.webhooks.events) and returns the msgIds that became sent. What a result does to its
message is decided by `campaigns.state.send_outcome` only; the retry policy (backoff, the attempt
cap) is applied here, before it.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from campaigns import notify, state
from campaigns.models import Message, MessageStatus
from campaigns.state import UNFINISHED, Change, counter_field
from campaigns.storage import storage
from rcsconnect.db import retry_on_conflict

from .retry import retry_delay

log = logging.getLogger(__name__)

# What happened to one claimed message.
DONE_SENT, DONE_FAILED, DONE_RETRY, DONE_RELEASE, DONE_CANCEL = "sent", "failed", "retry", "release", "cancel"
# The send rules' verdicts at the claim (campaigns.sendrules): wait for the window, skip, expire.
DONE_WAIT, DONE_SKIP, DONE_EXPIRE = "wait", "skip", "expire"
DONE_REBOOK = "rebook"  # a send that woke too late, handed back to be booked again: never written
# Status changes integrators hear about (docs/webhooks.md): not a message going back to the queue.
NOTIFIED = frozenset(MessageStatus.values) - frozenset(UNFINISHED)


@dataclass
class Result:
    message_id: int
    kind: str
    vendor_id: str = ""
    error_code: str = ""
    error_message: str = ""
    retry_after: float | None = None
    # A retry that does not count as an attempt (our own problem: provider auth, pause).
    free: bool = False
    throttled: bool = False  # the vendor answered 429
    # The message as its claim left it (PostgreSQL claims load it, with its row version).
    row: Message | None = field(default=None, repr=False, compare=False)
    # The send's answer when it changes the provider's health (recorded by the result writer).
    health: object = field(default=None, repr=False, compare=False)
    # DONE_WAIT: when the message's window opens (it waits until then).
    wait_until: datetime | None = None


def write_results(results: list[Result]) -> list[str]:
    """Apply results; returns the msgIds that became sent (for callbacks that arrived early).

    One transaction per batch (`Storage.write_results`). A deadlock or serialization failure (which
    the lock order should make impossible) is retried in place (`retry_on_conflict`); the retry
    loads the messages again, never reusing the rows the failed attempt changed in memory.
    """
    if not results:
        return []
    first = [True]

    def attempt() -> Batch:
        batch = Batch(results, claimed=first[0])
        first[0] = False
        storage().write_results(batch)
        return batch

    batch = retry_on_conflict(attempt, what="writing send results")
    return batch.sent_ids


class Batch:
    """One batch of results (`campaigns.storage.ResultBatch`), applied in memory to the messages the
    storage locked: each result is a transition of the message state machine, the counters and the
    stat buckets follow from it. `apply` starts afresh each time it is called."""

    def __init__(self, results: list[Result], *, claimed: bool = True) -> None:
        self.by_id = {r.message_id: r for r in results}
        self.ids = sorted(self.by_id)
        rows = [r.row for r in results]
        self.claimed = rows if claimed and all(row is not None for row in rows) else None
        self.apply([])

    def apply(self, messages: list[Message]) -> None:
        self.now = timezone.now()
        self.messages = messages
        self.counters: dict[int, Counter] = defaultdict(Counter)
        self.sent_ids: list[str] = []
        self.recorded: list[tuple] = []
        self.status_changes: list[dict] = []  # webhook events, stored with the batch
        for message in messages:
            code_before, status_before = message.error_code, message.status
            change = _apply(message, self.by_id[message.id], self.now, self.counters, self.sent_ids)
            if change is not None and change.counters:
                self.recorded.append((message, change, code_before))
            if message.status != status_before and message.status in NOTIFIED:
                self.status_changes.append(notify.message_status_changed(message, status_before, self.now))


def _apply(
    message: Message, result: Result, now, counters: dict[int, Counter], sent_ids: list[str]
) -> Change | None:
    """The result as a transition of the message state machine; the counters follow from it."""
    outcome, refund, next_attempt_at = result.kind, False, None
    if outcome in (DONE_RELEASE, DONE_CANCEL) or (outcome == DONE_RETRY and result.free):
        refund = True
        next_attempt_at = now + timedelta(seconds=result.retry_after or 0)
    elif outcome in (DONE_WAIT, DONE_SKIP, DONE_EXPIRE):  # never sent: the attempt does not count
        refund, next_attempt_at = True, result.wait_until
    elif outcome == DONE_RETRY:
        if message.attempts < settings.RCS_MAX_ATTEMPTS:
            next_attempt_at = now + timedelta(seconds=retry_delay(message.attempts, result.retry_after))
        else:
            reason = f"Gave up after {message.attempts} attempts: {result.error_message}".strip(": ")
            outcome = DONE_FAILED
            result = Result(
                result.message_id,
                DONE_FAILED,
                error_code=result.error_code or "retries",
                error_message=reason,
            )
    change = state.send_outcome(
        message,
        outcome=OUTCOMES[outcome],
        at=now,
        vendor_id=result.vendor_id,
        error_code=result.error_code,
        error_message=result.error_message,
        next_attempt_at=next_attempt_at,
        refund=refund,
    )
    if outcome == DONE_SENT:
        sent_ids.append(message.msg_id)
    _count(counters[message.campaign_id or 0], change)
    return change


OUTCOMES = {
    DONE_SENT: state.OUTCOME_SENT,
    DONE_FAILED: state.OUTCOME_FAILED,
    DONE_RETRY: state.OUTCOME_RETRY,
    DONE_RELEASE: state.OUTCOME_RELEASE,
    DONE_CANCEL: state.OUTCOME_CANCEL,
    DONE_WAIT: state.OUTCOME_WAIT,
    DONE_SKIP: state.OUTCOME_SKIP,
    DONE_EXPIRE: state.OUTCOME_EXPIRE,
}


def _count(tally: Counter, change) -> None:
    for name, delta in change.counters.items():
        tally[counter_field(name)] += delta
