"""Apply stored vendor events (`ProviderEvent`) to messages, campaign counters and the inbox.

Every status change goes through `campaigns.state.advance` (forward-only per channel, fallback
accounting, engagement implies delivered and read). Applying is idempotent and safe to run
concurrently: pending events are claimed with `FOR UPDATE SKIP LOCKED` (one applier per event),
messages are locked in id order (two events for one message never race), message fields are written
with one bulk update and campaign counters with `F()` deltas. Events whose msgId is unknown stay
pending; `apply_pending_for` applies them once the engine has written the message.

The callback endpoint only stores events (one short transaction per callback); the applier task
applies them in batches (`events_applier_run`, one at a time, kicked after every stored callback
and every minute), so thousands of callbacks per second do not queue on one campaign's counter row.
While a campaign sends, its dispatch tasks may hold every task worker, and the applier task then
waits in the queue behind them (deliveries used to show up in bursts, a minute apart): so each
dispatch loop also applies a batch of pending events twice a second, any provider's
(`apply_pending_of`), and the counters follow callbacks within a second or two. Pages only read.

Inbound replies become `InboxMessage` rows linked to the message they answer; an opt-out word
(STOP, UNSUBSCRIBE, ...) unsubscribes the number from every audience, an opt-in word (START,
UNSTOP) subscribes it again.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q

from providers.callbacks import INBOUND
from providers.events import RCS, REPLIED
from providers.models import ProviderEvent
from rcsconnect.db import retry_on_conflict
from rcsconnect.phone import from_vendor as vendor_phone
from rcsconnect.webhooks.events import EventType, emit

from . import notify, stats
from .models import Campaign, Contact, InboxMessage, Message
from .state import RANK, advance, counter_field
from .storage import storage

# Carrier / CTIA-style keywords, matched against the whole reply with spaces and punctuation removed.
OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "STOPPEN", "ARRET"}
)
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "SUBSCRIBE", "OPTIN"})
# A reply that names none of our messages is linked to the latest message sent to that number
# by the same provider within this window.
REPLY_LINK_WINDOW = timedelta(days=7)
CHUNK = 1000
APPLIER_KEY = "rcs:events-applier"
APPLIER_BATCH = 500
# A process that found the applier queued or running (or queued it) skips its kicks for this long:
# under load that saves a cache round trip per callback. The applier looks for pending events once
# more this long after it gives its mark up, so no skipped kick leaves an event behind.
KICK_MEMO_SECONDS = 0.1
_applier_seen_at = float("-inf")  # time.monotonic() when this process last knew the mark was held
logger = logging.getLogger(__name__)


@dataclass
class ApplyResult:
    applied: int = 0  # events applied now
    pending: int = 0  # events still waiting for their message
    messages: int = 0  # messages whose fields changed
    inbox: int = 0  # inbox entries created
    pending_ids: list[int] = field(default_factory=list)

    def __iadd__(self, other: ApplyResult) -> ApplyResult:
        self.applied += other.applied
        self.pending += other.pending
        self.messages += other.messages
        self.inbox += other.inbox
        self.pending_ids += other.pending_ids
        return self


def apply_provider_events(events: Sequence[ProviderEvent]) -> None:
    """The RCS_EVENT_HANDLER: the events are stored; make sure the applier task applies them soon."""
    if events:
        events_applier_kick()


def apply_events_now(events: Sequence[ProviderEvent]) -> ApplyResult:
    """Apply stored events in this process now (matched by dedupe_key; their pk may be unset)."""
    keys = list({e.dedupe_key for e in events})
    result = ApplyResult()
    for start in range(0, len(keys), CHUNK):
        result += _apply(Q(dedupe_key__in=keys[start : start + CHUNK]))
    return result


def apply_pending_for(msg_ids: Iterable[str]) -> ApplyResult:
    """Apply events that arrived before these messages existed (the engine calls it after writing)."""
    ids = _with_pending_events(sorted({m for m in msg_ids if m}))
    result = ApplyResult()
    for start in range(0, len(ids), CHUNK):
        result += _apply(Q(msg_id__in=ids[start : start + CHUNK]))
    return result


def apply_pending_of(
    *, campaign_id: int | None = None, provider_id: int | None = None, limit: int = APPLIER_BATCH
) -> ApplyResult:
    """Apply up to `limit` pending events of one campaign's messages (or one provider's events) now,
    in this process, without waiting for the applier task to get a worker. One read when there are
    none (no transaction: on SQLite a transaction takes the write lock)."""
    selector = _applicable(set())
    if campaign_id is not None:
        selector &= Q(Exists(Message.objects.filter(msg_id=OuterRef("msg_id"), campaign_id=campaign_id)))
    if provider_id is not None:
        selector &= Q(provider_id=provider_id)
    if not ProviderEvent.objects.filter(selector, applied=False).exists():
        return ApplyResult()
    return _apply(selector, limit=limit)


def _with_pending_events(msg_ids: list[str]) -> list[str]:
    """Which of these msgIds have events waiting: one read on the pending index, no transaction.

    The engine asks twice a second about everything it sent, and the answer is nearly always
    none; only those found are applied (locked, in a transaction).
    """
    return storage().pending_msg_ids(msg_ids) if msg_ids else []


def apply_pending(*, provider_id: int | None = None, since: datetime | None = None) -> ApplyResult:
    """Sweep: apply every pending event whose message exists by now (replay, maintenance)."""
    pending = ProviderEvent.objects.filter(applied=False)
    if provider_id is not None:
        pending = pending.filter(provider_id=provider_id)
    if since is not None:
        pending = pending.filter(received_at__gte=since)
    known = Message.objects.filter(msg_id__in=pending.values("msg_id")).values_list("msg_id", flat=True)
    result = apply_pending_for(known.iterator(chunk_size=CHUNK))
    inbound = pending.filter(status=INBOUND).values_list("pk", flat=True)
    ids = list(inbound)
    for start in range(0, len(ids), CHUNK):
        result += _apply(Q(pk__in=ids[start : start + CHUNK]))
    return result


# -- the applier task ---------------------------------------------------------------------------
def events_applier_kick() -> bool:
    """Enqueue the applier task unless one is already queued or running (a cache key says so).

    Skipped without asking the cache when this process knew the key held less than
    KICK_MEMO_SECONDS ago: whoever holds it looks at the table again at least that long after
    giving it up (`events_applier_run`), and the caller's events are committed already.
    """
    global _applier_seen_at
    from django_q.tasks import async_task

    now = time.monotonic()  # before asking: the key was held at some moment after this one
    if now - _applier_seen_at < KICK_MEMO_SECONDS:
        return False
    if not cache.add(APPLIER_KEY, "1", timeout=settings.RCS_EVENTS_APPLIER_TTL):
        _applier_seen_at = now
        return False
    try:
        async_task("campaigns.events.events_applier_run", group="events")
    except Exception:
        cache.delete(APPLIER_KEY)
        raise
    _applier_seen_at = now
    return True


def _applicable(skip: set[int]) -> Q:
    """Pending events that can be applied now: their message exists, or they are inbound."""
    known = Exists(Message.objects.filter(msg_id=OuterRef("msg_id")))
    return (Q(status=INBOUND) | Q(known)) & ~Q(pk__in=skip)


def events_applier_run(*, budget: float | None = None) -> int:
    """The applier task: apply every applicable pending event in batches; returns how many.

    Holds APPLIER_KEY while it runs. After giving it up it waits KICK_MEMO_SECONDS and looks once
    more, so an event stored after its last batch (whose kick found the key still held, or was
    skipped because its process had found it held a moment before) is never left behind. A batch
    that fails is retried event by event; an event that still fails is skipped (logged) until next run.
    """
    budget = settings.RCS_EVENTS_APPLIER_BUDGET if budget is None else budget
    deadline = time.monotonic() + budget
    applied, skip = 0, set()
    try:
        while True:
            if time.monotonic() > deadline:
                from django_q.tasks import async_task

                # Work left after the budget: a fresh task continues (the key stays held).
                async_task("campaigns.events.events_applier_run", group="events")
                return applied
            result = _apply_batch(skip)
            applied += result.applied
            skip.update(result.pending_ids)
            if result.applied or result.pending_ids:
                if result.applied + len(result.pending_ids) < APPLIER_BATCH:
                    # A part batch: let callbacks gather for a moment. A batch costs about the same
                    # whatever its size (claim, lock, bulk update, counters, commit), so applying
                    # whatever trickled in back to back would take CPU from the web workers.
                    time.sleep(settings.RCS_EVENTS_APPLIER_PAUSE)
                continue
            cache.delete(APPLIER_KEY)
            time.sleep(KICK_MEMO_SECONDS)  # until no process skips its kick on what it saw before
            if not ProviderEvent.objects.filter(_applicable(skip), applied=False).exists():
                return applied
            if not cache.add(APPLIER_KEY, "1", timeout=settings.RCS_EVENTS_APPLIER_TTL):
                return applied  # a new kick took over
            time.sleep(0.05)  # the remaining events are locked by another applier for a moment
    except BaseException:
        cache.delete(APPLIER_KEY)
        raise


def _apply_batch(skip: set[int]) -> ApplyResult:
    try:
        return _apply(_applicable(skip), limit=APPLIER_BATCH)
    except Exception:
        logger.exception("applying a batch of events failed; retrying them one by one")
    result = ApplyResult()
    pending = ProviderEvent.objects.filter(_applicable(skip), applied=False).order_by("msg_id")
    for pk in pending.values_list("pk", flat=True)[:APPLIER_BATCH]:
        try:
            result += _apply(Q(pk=pk))
        except Exception:
            logger.exception("event %s could not be applied; it stays pending", pk)
            skip.add(pk)
    return result


def opt_word(*texts: str) -> str:
    """InboxMessage.Action for a reply that is exactly an opt-out / opt-in keyword, else ""."""
    for text in texts:
        if not text or len(text) > 24:
            continue
        word = re.sub(r"[^A-Z]", "", text.upper())
        if word in OPT_OUT_WORDS:
            return InboxMessage.Action.OPT_OUT
        if word in OPT_IN_WORDS:
            return InboxMessage.Action.OPT_IN
    return InboxMessage.Action.NONE


def _at(event: ProviderEvent) -> datetime:
    return event.occurred_at or event.received_at


def _apply(selector: Q, *, limit: int | None = None) -> ApplyResult:
    """Apply the pending events `selector` picks, in one transaction; a deadlock or serialization
    failure (the lock order should rule them out) is retried in place."""
    return retry_on_conflict(_apply_once, selector, limit=limit, what="applying events")


def _apply_once(selector: Q, *, limit: int | None = None) -> ApplyResult:
    # Lock order (docs/engine.md): the events (SKIP LOCKED), the messages by id, the campaign rows
    # by id, the stat buckets, the error buckets by key; the same as the engine's result writer.
    result = ApplyResult()
    with transaction.atomic():
        claim = ProviderEvent.objects.select_for_update(skip_locked=True).filter(selector, applied=False)
        if limit:
            # msg_id order walks the pending partial index and keeps a message's events together.
            claim = claim.order_by("msg_id")[:limit]
        events = list(claim)
        if not events:
            return result
        events.sort(key=lambda e: (_at(e), RANK.get(e.status, 9), e.pk))
        messages = _lock_messages(events)
        by_id = {m.pk: m for m in messages.values()}
        changed: dict[int, set[str]] = defaultdict(set)
        counters: dict[int, Counter] = defaultdict(Counter)
        recorded: list[tuple] = []  # (message, change, error_code before) for the hourly stats
        entries: list[InboxMessage] = []
        actions: dict[str, str] = {}
        applied: list[int] = []
        status_changes: list[dict] = []  # webhook events
        replies: list[dict] = []

        for event in events:
            data = event.data or {}
            if event.status == INBOUND:
                phone = vendor_phone(data.get("from_number", ""))
                message = messages.get(event.msg_id) or messages.get(f"@{event.provider_id}:{phone}")
                status, channel = REPLIED, (message.delivered_via or RCS) if message else RCS
            else:
                message = messages.get(event.msg_id)
                if message is None:
                    result.pending += 1
                    result.pending_ids.append(event.pk)
                    continue
                phone = vendor_phone(data.get("from_number", "")) or message.to
                status, channel = event.status, event.channel
            if message is not None:
                code_before, status_before = message.error_code, message.status
                change = advance(
                    message,
                    channel=channel,
                    status=status,
                    at=_at(event),
                    error_code=str(data.get("error_code", "")),
                    error_message=str(data.get("error_message", "")),
                    vendor_id=str(data.get("vendor_id", "")),
                )
                changed[message.pk] |= change.fields
                if "status" in change.fields:
                    status_changes.append(notify.message_status_changed(message, status_before, _at(event)))
                if change.counters:
                    recorded.append((message, change, code_before))
                    if message.campaign_id:
                        counters[message.campaign_id].update(change.counters)
            if status == REPLIED:
                action = opt_word(data.get("text", ""), data.get("postback_data", ""))
                if action:
                    actions[phone] = action
                entry = InboxMessage(
                    provider_id=event.provider_id,
                    phone=phone,
                    contact_id=message.contact_id if message else None,
                    direction=InboxMessage.Direction.INBOUND,
                    text=str(data.get("text", "")),
                    postback_data=str(data.get("postback_data", ""))[:2048],
                    message=message,
                    event_id=event.pk,
                    action=action,
                    created_at=_at(event),
                )
                entries.append(entry)
                replies.append(notify.reply_received(entry, message))
            applied.append(event.pk)

        # Deliveries are written with the change they report, sent once it commits.
        emit(EventType.MESSAGE_STATUS_CHANGED, status_changes)
        emit(EventType.REPLY_RECEIVED, replies)
        _write(by_id, changed, counters, entries, actions, applied)
        stats.record(recorded)
        if settings.RCS_CONVERSION_POSTBACK_PREFIX:  # the postback rule (campaigns.conversions)
            from .conversions import from_postback

            for entry in entries:
                if entry.postback_data:
                    from_postback(
                        postback_data=entry.postback_data,
                        phone=entry.phone,
                        message=entry.message,
                        at=entry.created_at,
                        event_id=entry.event_id,
                    )
        result.applied = len(applied)
        result.messages = sum(1 for fields in changed.values() if fields)
        result.inbox = len(entries)
    return result


def _lock_messages(events: list[ProviderEvent]) -> dict[str, Message]:
    """Lock (in id order) every message the events name, plus the one each unlinked reply answers.

    Keys: msg_id, and "@<provider id>:<phone>" for replies matched by number.
    """
    msg_ids = {e.msg_id for e in events if e.msg_id}
    inferred: dict[str, int] = {}
    for event in events:
        if event.status != INBOUND or (event.msg_id and Message.objects.filter(msg_id=event.msg_id).exists()):
            continue
        phone = vendor_phone((event.data or {}).get("from_number", ""))
        key = f"@{event.provider_id}:{phone}"
        if key in inferred:
            continue
        latest = (
            Message.objects.filter(
                provider_id=event.provider_id, to=phone, sent_at__gte=_at(event) - REPLY_LINK_WINDOW
            )
            .order_by("-id")
            .values_list("pk", flat=True)
            .first()
        )
        if latest:
            inferred[key] = latest
    locked = Message.objects.select_for_update().filter(Q(msg_id__in=msg_ids) | Q(pk__in=inferred.values()))
    by_pk = {m.pk: m for m in locked.order_by("id")}
    messages = {m.msg_id: m for m in by_pk.values()}
    for key, pk in inferred.items():
        messages[key] = by_pk[pk]
    return messages


def _write(
    messages: dict[int, Message],
    changed: dict[int, set[str]],
    counters: dict[int, Counter],
    entries: list[InboxMessage],
    actions: dict[str, str],
    applied: list[int],
) -> None:
    fields = set().union(*changed.values()) if changed else set()
    dirty = [messages[pk] for pk, f in changed.items() if f]
    if dirty:
        storage().update_messages(dirty, sorted(fields))
    ProviderEvent.objects.filter(pk__in=applied).update(applied=True)
    if entries:
        InboxMessage.objects.bulk_create(entries)
    for phone, action in actions.items():
        Contact.objects.filter(phone=phone).update(subscribed=action == InboxMessage.Action.OPT_IN)
    # Campaign rows last and in id order: the hottest lock is held for the shortest time.
    for campaign_id in sorted(counters):
        deltas = {
            counter_field(name): F(counter_field(name)) + delta
            for name, delta in counters[campaign_id].items()
            if delta
        }
        if deltas:
            Campaign.objects.filter(pk=campaign_id).update(**deltas)
