"""Conversions: recording one (idempotently) and attributing it (the one owner of the rule).

Attribution: the conversion is credited to the campaign message its number last received (sent to
it) or clicked within `settings.RCS_CONVERSION_WINDOW_HOURS` before the conversion's time; the
message's campaign gets the credit. No such message: the conversion is stored unattributed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Contact, Conversion, Message

# Candidate messages looked at per conversion (the number's most recent campaign messages).
CANDIDATES = 50


def window() -> timedelta:
    return timedelta(hours=settings.RCS_CONVERSION_WINDOW_HOURS)


def touch_time(message: Message, since: datetime, until: datetime) -> datetime | None:
    """The latest moment within [since, until] the number received or clicked `message`."""
    stamps = [message.sent_at, message.delivered_at, message.clicked_at]
    inside = [at for at in stamps if at is not None and since <= at <= until]
    return max(inside, default=None)


def attribute(phone: str, at: datetime) -> Message | None:
    """The campaign message a conversion of `phone` at `at` is credited to (None outside the window)."""
    since = at - window()
    touched = Q()
    for stamp in ("sent_at", "delivered_at", "clicked_at"):
        touched |= Q(**{f"{stamp}__gte": since, f"{stamp}__lte": at})
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
) -> tuple[Conversion, bool]:
    """Store and attribute one conversion; (the conversion, whether it is new). A repeated
    `idempotency_key` returns the first conversion and stores nothing."""
    if idempotency_key:
        earlier = Conversion.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            return earlier, False
    at = occurred_at or timezone.now()
    message = attribute(phone, at)
    conversion = Conversion(
        phone=phone,
        event=event[:100],
        value=Decimal(str(value)),
        occurred_at=at,
        contact=contact,
        message=message,
        campaign_id=message.campaign_id if message else None,
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
