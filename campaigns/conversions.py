"""Conversions: recording one (idempotently) and attributing it (the one owner of the rule).

Attribution: the conversion is credited to the campaign message its number last received (sent to
it) or clicked within `settings.RCS_CONVERSION_WINDOW_HOURS` before the conversion's time; the
message's campaign gets the credit, and the conversion carries the message's variant (A/B
campaigns, `campaigns.experiments`). A holdout row (never sent) counts as "received" when it was
written, the moment its group's messages went out: the holdout's conversions give the lift.
No such message: the conversion is stored unattributed.

Rules (conversions without the API; settings, empty = off):
- `RCS_CONVERSION_POSTBACK_PREFIX`: a reply whose suggestion postback data starts with it
  ("convert:purchase", "convert:purchase:19.99": event, optional value) is a conversion, credited
  to the message replied to (`from_postback`, called by the event applier).
- `RCS_CONVERSION_LINK_EVENT`: a tracked short link's first landing by a person is a conversion of
  that name, credited to the link's message (`from_link_landing`, called by `clicks.click_record`).
Each is idempotent (its key names the reply event or the link), like a repeated Idempotency-Key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Contact, Conversion, Message, MessageStatus

# Candidate messages looked at per conversion (the number's most recent campaign messages).
CANDIDATES = 50


def window() -> timedelta:
    return timedelta(hours=settings.RCS_CONVERSION_WINDOW_HOURS)


def touch_time(message: Message, since: datetime, until: datetime) -> datetime | None:
    """The latest moment within [since, until] the number received or clicked `message`."""
    stamps = [message.sent_at, message.delivered_at, message.clicked_at]
    if message.status == MessageStatus.HOLDOUT:
        stamps = [message.created_at]
    inside = [at for at in stamps if at is not None and since <= at <= until]
    return max(inside, default=None)


def attribute(phone: str, at: datetime) -> Message | None:
    """The campaign message a conversion of `phone` at `at` is credited to (None outside the window)."""
    since = at - window()
    touched = Q()
    for stamp in ("sent_at", "delivered_at", "clicked_at"):
        touched |= Q(**{f"{stamp}__gte": since, f"{stamp}__lte": at})
    touched |= Q(status=MessageStatus.HOLDOUT, created_at__gte=since, created_at__lte=at)
    candidates = Message.objects.filter(touched, to=phone, campaign__isnull=False).order_by("-id")[
        :CANDIDATES
    ]
    best, best_at = None, None
    for message in candidates:
        moment = touch_time(message, since, at)
        if moment is not None and (best_at is None or moment > best_at):
            best, best_at = message, moment
    return best


def record(
    *,
    phone: str,
    event: str,
    value: Decimal | int | float = 0,
    occurred_at: datetime | None = None,
    contact: Contact | None = None,
    source: str = Conversion.Source.API,
    idempotency_key: str = "",
    message: Message | None = None,
) -> tuple[Conversion, bool]:
    """Store and attribute one conversion; (the conversion, whether it is new). A repeated
    `idempotency_key` returns the first conversion and stores nothing. `message`: credit this
    message (a rule's: the one replied to, the link's) instead of looking for one."""
    if idempotency_key:
        earlier = Conversion.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            return earlier, False
    at = occurred_at or timezone.now()
    if message is None or message.campaign_id is None:
        message = attribute(phone, at)
    conversion = Conversion(
        phone=phone,
        event=event[:100],
        value=Decimal(str(value)),
        occurred_at=at,
        contact=contact,
        message=message,
        campaign_id=message.campaign_id if message else None,
        variant=message.variant if message else "",
        source=source,
        idempotency_key=idempotency_key[:120],
    )
    try:
        with transaction.atomic():
            conversion.save()
    except IntegrityError:  # a concurrent request with the same key won the race
        if not idempotency_key:
            raise
        return Conversion.objects.get(idempotency_key=idempotency_key), False
    return conversion, True


def postback_rule(postback_data: str) -> tuple[str, Decimal] | None:
    """(event, value) when `postback_data` is a conversion by `RCS_CONVERSION_POSTBACK_PREFIX`."""
    prefix = settings.RCS_CONVERSION_POSTBACK_PREFIX
    if not prefix or not postback_data.startswith(prefix):
        return None
    event, _, raw = postback_data[len(prefix) :].partition(":")
    try:
        value = Decimal(raw.strip() or 0).quantize(Decimal("0.01"))
    except ArithmeticError:
        value = Decimal(0)
    return (event.strip() or "postback")[:100], value


def from_postback(
    *, postback_data: str, phone: str, message: Message | None, at: datetime, event_id: int
) -> Conversion | None:
    """The conversion a reply's postback data makes by the rule (None when it makes none)."""
    found = postback_rule(postback_data)
    if found is None:
        return None
    event, value = found
    conversion, _ = record(
        phone=phone,
        event=event,
        value=value,
        occurred_at=at,
        contact=message.contact if message is not None and message.contact_id else None,
        source=Conversion.Source.POSTBACK,
        idempotency_key=f"postback:{event_id}",
        message=message,
    )
    return conversion


def from_link_landing(*, link, at: datetime) -> Conversion | None:
    """The conversion a tracked link's first landing makes by the rule (None when it is off)."""
    event = settings.RCS_CONVERSION_LINK_EVENT
    if not event or link.message_id is None:
        return None
    message = Message.objects.filter(pk=link.message_id).first()
    if message is None:
        return None
    conversion, _ = record(
        phone=message.to,
        event=event,
        occurred_at=at,
        contact=message.contact,
        source=Conversion.Source.LINK,
        idempotency_key=f"link:{link.pk}",
        message=message,
    )
    return conversion
