"""The one place where a message's status changes (WIRE.md 3, "Rules"): the message state machine.

Every writer asks it: the callback handler (vendor events: `advance`), the engine's result writer
(a send's outcome: `send_outcome`), cancel (`cancel`, and `CANCELLABLE` for its set-based form),
the claim and lease expiry (`CLAIM`: queued, or sending with its lease run out, -> sending). Each
function mutates the message in memory and returns a `Change`: the fields that changed and how the
campaign counters move (the funnel, `processed` and `cancelled`), worked out from the message's
state before and after (`tally`). Callers persist both in batches; no counter moves otherwise.

Rules:
- Per channel, status only moves forward: queued < sent < failed < delivered < read. A late
  "delivered" outranks "failed" (the vendor's success report wins); nothing moves a status back.
- "failed" on RCS with SMS fallback on means "fell back to SMS", not an error; the message is
  failed only when there is no fallback or the SMS failed too.
- clicked and replied are engagement: they imply delivered and read on their channel.
- A channel of "" means the whole message (a final send failure before any channel ran).

Holdout (`campaigns.experiments`): a campaign's holdout contacts get a message row in state
"holdout" (`HOLDOUT`), written by the fan-out, so that they are measured (their conversions give
the lift). It is final from the start and never sent: no transition leads to or from it (the claim
takes queued and sending rows only, cancel `CANCELLABLE` ones, retry and resend neither), `advance`
and `send_outcome` leave it as it is, and it moves no counter: it is neither in the campaign's
`total` nor `processed` (the fan-out counts it in `holdout_count`), so a campaign with a holdout
completes with processed == total.

Retry and resend (Support's safe actions, `campaigns.services.message_retry` / `message_resend`):
- A finished message is never sent again under its own msgId: vendors deduplicate on it (WIRE.md
  1.1: a repeat would be dropped, or a failed one answered with its old failure), and late callbacks
  for that msgId must keep finding the row they belong to. So both create a new message, an
  attempt (`repeat`): the same recipient, content and campaign, queued now, with a msgId derived
  from the first message's (`repeat_msg_id`: "<first msgId>-r<n>") and `repeat_of` naming the first
  message. The engine sends it as any queued message (its automatic retries keep that new msgId).
- Retry is for a failed message (`RETRYABLE`), resend for one that went out (`RESENDABLE`: sent,
  delivered or read). A queued, sending or cancelled message is neither.
- Nothing moves backwards and nothing is counted twice: the original keeps its status, counters and
  stat buckets; the attempt is one more message of its campaign (`total` + 1, as the fan-out counts
  a row) and moves the counters through the transitions above once it is sent, so a recount of the
  rows equals the counters and `rebuild_stats` changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from providers.events import CLICKED, DELIVERED, FAILED, QUEUED, RCS, READ, REPLIED, SENT, SMS  # noqa: F401 (RCS, SMS re-exported)

from .models import Message, MessageStatus

# The one status ordering: a channel status only moves up; events for one message are applied in
# this order when they carry the same time (engagement last).
RANK = {"": 0, QUEUED: 0, SENT: 1, FAILED: 2, DELIVERED: 3, READ: 4, CLICKED: 5, REPLIED: 5}
FUNNEL = ("sent", "delivered_rcs", "delivered_sms", "read", "clicked", "replied", "failed")
# Every campaign counter a transition moves: the funnel, plus the messages that left the queue for
# good (`processed`; `waiting` is total - processed), those cancelled, and those the send rules
# ended unsent (skipped: frequency cap or opted out; expired).
COUNTED = (*FUNNEL, "processed", "cancelled", "skipped", "expired")
# Not finished yet: waiting in the queue (maybe for a retry), leased by a worker, or waiting for
# its send window (campaigns.sendrules).
UNFINISHED = (MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.WAITING)
# A window opening: the waiting messages whose `next_attempt_at` (their window's opening) passed go
# back to the queue, as one UPDATE (`campaigns.sendrules.release_due`). Both ends are unfinished, so
# no counter moves.
RELEASE_WINDOW = {MessageStatus.WAITING: MessageStatus.QUEUED}
# What expiry ends (set-based, like cancel): queued or waiting, or leased with its lease run out.
EXPIRABLE = UNFINISHED
# Why a message was skipped (its error_code).
SKIP_FREQUENCY_CAP, SKIP_OPTED_OUT = "frequency_cap", "opted_out"
# The claim's transition, as the claim's SQL applies it to many rows at once: a due queued message,
# or a leased one whose lease ran out (its worker died), -> sending, with a new lease and one more
# attempt. Neither end is finished, so no counter moves.
CLAIM = {MessageStatus.QUEUED: MessageStatus.SENDING, MessageStatus.SENDING: MessageStatus.SENDING}
# Never sent, never changed (the holdout group's rows): see "Holdout" above.
HOLDOUT = MessageStatus.HOLDOUT
NEVER_SENT = (HOLDOUT,)
# What cancel stops: a queued message, or a leased one whose lease ran out. A message on the wire
# finishes as it is.
CANCELLABLE = UNFINISHED
# A send's outcome (the engine's result writer).
OUTCOME_SENT, OUTCOME_FAILED, OUTCOME_RETRY, OUTCOME_RELEASE, OUTCOME_CANCEL = (
    "sent",
    "failed",
    "retry",
    "release",
    "cancel",
)
# The send rules' outcomes, decided at the claim (campaigns.sendrules): outside the window -> waiting
# until `next_attempt_at` (the attempt does not count); capped or opted out -> skipped (error_code
# the reason); past the campaign's expiry -> expired. Skipped and expired are final, never sent.
OUTCOME_WAIT, OUTCOME_SKIP, OUTCOME_EXPIRE = "wait", "skip", "expire"


RETRYABLE = (MessageStatus.FAILED,)
RESENDABLE = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)
RETRY, RESEND = "retry", "resend"
REPEATABLE = {RETRY: RETRYABLE, RESEND: RESENDABLE}
MSG_ID_MAX = 60  # WIRE.md 1.1


class NotRepeatable(ValueError):
    """The message cannot be retried or resent (the reason is shown to the user as is)."""


@dataclass
class Change:
    fields: set[str] = field(default_factory=set)
    # Campaign counter deltas, keyed by FUNNEL name ("sent" -> Campaign.sent_count, ...).
    counters: Counter = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.fields)


def tally(message: Message) -> dict[str, bool]:
    """Which campaign counters (`COUNTED`) count this message."""
    return {
        **funnel(message),
        "processed": message.status not in (*UNFINISHED, *NEVER_SENT),
        "cancelled": message.status == MessageStatus.CANCELLED,
        "skipped": message.status == MessageStatus.SKIPPED,
        "expired": message.status == MessageStatus.EXPIRED,
    }


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
    if message.status in NEVER_SENT:
        return Change()  # a holdout row has nothing on the wire: no event can be its
    before = tally(message)
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
    return _count(message, change, before)


def _count(message: Message, change: Change, before: dict[str, bool]) -> Change:
    after = tally(message)
    for name in COUNTED:
        if after[name] != before[name]:
            change.counters[name] += 1 if after[name] else -1
    return change


def send_outcome(
    message: Message,
    *,
    outcome: str,
    at: datetime,
    vendor_id: str = "",
    error_code: str = "",
    error_message: str = "",
    next_attempt_at: datetime | None = None,
    refund: bool = False,
) -> Change:
    """Apply a send's outcome to the claimed `message` (in memory): its lease ends; sent or failed go
    through `advance`; retry and release put an unfinished message back in the queue until
    `next_attempt_at` (`refund`: the attempt does not count), cancel cancels it. A message finished
    meanwhile (an early callback, another worker after its lease ran out, cancel) keeps its status:
    only a "sent" is still recorded on it (its sent time and vendor id)."""
    if message.status in NEVER_SENT:
        return Change()
    message.lease_until = None
    if outcome == OUTCOME_SENT:
        return advance(message, channel="", status=SENT, at=at, vendor_id=vendor_id)
    if message.status not in UNFINISHED:
        return Change()
    if outcome == OUTCOME_FAILED:
        return advance(
            message, channel="", status=FAILED, at=at, error_code=error_code, error_message=error_message
        )
    before, change = tally(message), Change()
    if refund:
        _set(message, change, "attempts", max(0, message.attempts - 1))
    if outcome == OUTCOME_CANCEL:
        _set(message, change, "status", MessageStatus.CANCELLED)
    elif outcome == OUTCOME_SKIP:
        _set(message, change, "status", MessageStatus.SKIPPED)
        _set(message, change, "error_code", error_code[:20])
        _set(message, change, "error_message", error_message[:300])
    elif outcome == OUTCOME_EXPIRE:
        _set(message, change, "status", MessageStatus.EXPIRED)
        _set(message, change, "error_code", "expired")
    elif outcome == OUTCOME_WAIT:
        _set(message, change, "status", MessageStatus.WAITING)
        _set(message, change, "next_attempt_at", next_attempt_at or at)
    else:
        _set(message, change, "status", MessageStatus.QUEUED)
        _set(message, change, "next_attempt_at", next_attempt_at or at)
        if outcome == OUTCOME_RETRY and not refund:
            _set(message, change, "error_code", error_code[:20])
            _set(message, change, "error_message", error_message[:300])
    return _count(message, change, before)


def cancel_counters(cancelled: int) -> Counter:
    """The counters `cancelled` messages in `CANCELLABLE` move when cancel stops them (what
    `send_outcome(outcome=OUTCOME_CANCEL)` gives each; cancel applies it as one UPDATE)."""
    return Counter(processed=cancelled, cancelled=cancelled)


def expire_counters(expired: int) -> Counter:
    """The counters `expired` messages in `EXPIRABLE` move when expiry ends them as one UPDATE (what
    `send_outcome(outcome=OUTCOME_EXPIRE)` gives each)."""
    return Counter(processed=expired, expired=expired)


def counter_field(name: str) -> str:
    """Campaign field for a FUNNEL name."""
    return f"{name}_count"


def repeat_msg_id(first_msg_id: str, number: int) -> str:
    """The msgId of the `number`th retry or resend of the message first sent as `first_msg_id`."""
    msg_id = f"{first_msg_id}-r{number}"
    if len(msg_id) > MSG_ID_MAX:
        raise NotRepeatable(f"A new msgId for {first_msg_id} would be longer than {MSG_ID_MAX} characters.")
    return msg_id


def repeat(message: Message, *, kind: str, first: Message, number: int, at: datetime) -> Message:
    """The new attempt (unsaved, queued at `at`) that retries or resends `message` (see the module
    docstring); `first` is the message the chain started with, `number` the attempt's place in it."""
    if message.status not in REPEATABLE[kind]:
        allowed = " or ".join(str(status) for status in REPEATABLE[kind])
        raise NotRepeatable(
            f"Only a {allowed} message can be {'retried' if kind == RETRY else 'resent'}; "
            f"{message.msg_id} is {message.status}."
        )
    return Message(
        campaign_id=message.campaign_id,
        provider_id=message.provider_id,
        contact_id=message.contact_id,
        to=message.to,
        msg_id=repeat_msg_id(first.msg_id, number),
        content=message.content,
        sms_fallback=message.sms_fallback,
        variant=message.variant,  # an A/B campaign's attempt is built from the same variant
        repeat_of=first,
        status=MessageStatus.QUEUED,
        next_attempt_at=at,
    )
