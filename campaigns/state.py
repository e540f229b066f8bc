"""The one place where a message's status changes (WIRE.md 3, "Rules").

Both the sending engine (send results) and the callback handler (vendor events) call `advance`.
It mutates the message in memory and returns which fields changed and how the campaign funnel
counters move; callers persist both in batches.

Rules:
- Per channel, status only moves forward: queued < sent < failed < delivered < read. A late
  "delivered" outranks "failed" (the vendor's success report wins); nothing moves a status back.
- "failed" on RCS with SMS fallback on means "fell back to SMS", not an error; the message is
  failed only when there is no fallback or the SMS failed too.
- clicked and replied are engagement: they imply delivered and read on their channel.
- A channel of "" means the whole message (a final send failure before any channel ran).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from providers.events import CLICKED, DELIVERED, FAILED, QUEUED, READ, REPLIED, SENT

from .models import Message, MessageStatus

RCS, SMS = "RCS", "SMS"
RANK = {"": 0, QUEUED: 0, SENT: 1, FAILED: 2, DELIVERED: 3, READ: 4}
FUNNEL = ("sent", "delivered_rcs", "delivered_sms", "read", "clicked", "replied", "failed")


@dataclass
class Change:
    fields: set[str] = field(default_factory=set)
    # Campaign counter deltas, keyed by FUNNEL name ("sent" -> Campaign.sent_count, ...).
    counters: Counter = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.fields)


def funnel(message: Message) -> dict[str, bool]:
    delivered_rcs = message.rcs_status in (DELIVERED, READ)
    return {
        "sent": message.sent_at is not None,
        "delivered_rcs": delivered_rcs,
        "delivered_sms": not delivered_rcs and message.sms_status in (DELIVERED, READ),
        "read": READ in (message.rcs_status, message.sms_status),
        "clicked": message.clicked_at is not None,
        "replied": message.replied_at is not None,
        "failed": message.status == MessageStatus.FAILED,
    }


def _overall(message: Message) -> str:
    rcs, sms = RANK[message.rcs_status], RANK[message.sms_status]
    best = max(rcs, sms)
    if best == RANK[READ]:
        return MessageStatus.READ
    if best == RANK[DELIVERED]:
        return MessageStatus.DELIVERED
    rcs_failed = message.rcs_status == FAILED
    sms_failed = message.sms_status == FAILED
    if message.status == MessageStatus.FAILED and not (message.rcs_status or message.sms_status):
        return MessageStatus.FAILED  # failed before any channel reported
    if (rcs_failed and (not message.sms_fallback or sms_failed)) or (sms_failed and not message.rcs_status):
        return MessageStatus.FAILED
    if max(rcs, sms) >= RANK[SENT] or message.sent_at:
        return MessageStatus.SENT
    return message.status


def _set(message: Message, change: Change, name: str, value) -> None:
    if getattr(message, name) != value:
        setattr(message, name, value)
        change.fields.add(name)


def advance(
    message: Message,
    *,
    channel: str,
    status: str,
    at: datetime,
    error_code: str = "",
    error_message: str = "",
    vendor_id: str = "",
) -> Change:
    """Apply one status or engagement event to `message` (in memory); return what changed."""
    before = funnel(message)
    change = Change()
    if vendor_id and not message.vendor_id:
        _set(message, change, "vendor_id", vendor_id[:120])

    if not channel:
        if status == FAILED and message.status not in (MessageStatus.DELIVERED, MessageStatus.READ):
            _set(message, change, "status", MessageStatus.FAILED)
            _set(message, change, "error_code", error_code[:20])
            _set(message, change, "error_message", error_message[:300])
            if message.failed_at is None:
                _set(message, change, "failed_at", at)
        elif status == SENT and message.sent_at is None:
            _set(message, change, "sent_at", at)
        return _finish(message, change, before, at)

    attr = "rcs_status" if channel == RCS else "sms_status"
    target = status
    if status in (CLICKED, REPLIED):
        target = READ
        stamp = "clicked_at" if status == CLICKED else "replied_at"
        if getattr(message, stamp) is None:
            _set(message, change, stamp, at)
    if target in RANK and RANK[target] > RANK[getattr(message, attr)]:
        _set(message, change, attr, target)
        if target == FAILED:
            _set(message, change, "error_code", error_code[:20])
            _set(message, change, "error_message", error_message[:300])
    if RANK.get(target, 0) >= RANK[SENT] and target != FAILED and message.sent_at is None:
        _set(message, change, "sent_at", at)
    if RANK.get(target, 0) >= RANK[DELIVERED]:
        if message.delivered_at is None:
            _set(message, change, "delivered_at", at)
        via = RCS if message.rcs_status in (DELIVERED, READ) else channel
        _set(message, change, "delivered_via", via)
    if target == READ and message.read_at is None:
        _set(message, change, "read_at", at)
    return _finish(message, change, before, at)


def _finish(message: Message, change: Change, before: dict[str, bool], at: datetime) -> Change:
    if message.status != MessageStatus.CANCELLED:
        overall = _overall(message)
        if overall == MessageStatus.FAILED and message.failed_at is None:
            _set(message, change, "failed_at", at)
        _set(message, change, "status", overall)
    after = funnel(message)
    for name in FUNNEL:
        if after[name] != before[name]:
            change.counters[name] += 1 if after[name] else -1
    return change


def counter_field(name: str) -> str:
    """Campaign field for a FUNNEL name."""
    return f"{name}_count"
