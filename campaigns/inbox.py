"""Inbox workflows: conversations per (provider, phone) and answering from one.

Inbound entries (replies and suggestion taps) are written by the callback handler
(`campaigns.events`); an answer is a TEXT message queued through the engine's transactional path
(same provider, same throttle) plus an outbound entry whose Message carries the delivery status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Count, Max, OuterRef, Q, Subquery

from providers.models import Provider
from templates_app.limits import validate_content

from .models import Contact, InboxMessage

REPLY_MAX = 1000


class InboxError(ValueError):
    """An answer that cannot be sent (shown next to the reply box)."""


@dataclass
class Conversation:
    provider: Provider
    phone: str
    last_at: datetime
    entries: int
    last_text: str
    last_direction: str
    contact: Contact | None = None

    @property
    def awaiting_answer(self) -> bool:
        """The latest entry was received: nobody has answered since (what the API calls `unread`;
        nothing records who has read a thread)."""
        return self.last_direction == InboxMessage.Direction.INBOUND


def _conversation_rows(*, query: str = "", phone: str = "", unread: bool | None = None):
    """One row per (provider, phone) with its latest time, entry count and latest direction."""
    entries = InboxMessage.objects.all()
    if phone:
        entries = entries.filter(phone=phone)
    if query:
        matching = InboxMessage.objects.filter(
            Q(phone__icontains=query) | Q(text__icontains=query) | Q(postback_data__icontains=query)
        ).values("provider_id", "phone")
        keys = {(row["provider_id"], row["phone"]) for row in matching[:2000]}
        if not keys:
            return None
        condition = Q()
        for provider_id, number in keys:
            condition |= Q(provider_id=provider_id, phone=number)
        entries = entries.filter(condition)
    latest = InboxMessage.objects.filter(provider_id=OuterRef("provider_id"), phone=OuterRef("phone"))
    rows = entries.values("provider_id", "phone").annotate(
        last_at=Max("created_at"),
        n=Count("id"),
        last_direction=Subquery(latest.order_by("-created_at", "-id").values("direction")[:1]),
    )
    if unread is not None:
        # "Unread" (the API's name) is awaiting an answer: the latest entry is one received.
        inbound = InboxMessage.Direction.INBOUND
        rows = rows.filter(last_direction=inbound) if unread else rows.exclude(last_direction=inbound)
    return rows


def conversation_count(*, query: str = "", phone: str = "", unread: bool | None = None) -> int:
    rows = _conversation_rows(query=query, phone=phone, unread=unread)
    return 0 if rows is None else rows.count()


def conversations(
    *, query: str = "", phone: str = "", unread: bool | None = None, limit: int = 50, offset: int = 0
) -> list[Conversation]:
    """Conversations, most recent first; `query` matches the number or any text in them, `phone` is
    one number exactly, `unread` keeps those whose latest entry was received (or, False, answered)."""
    grouped = _conversation_rows(query=query, phone=phone, unread=unread)
    if grouped is None:
        return []
    rows = list(grouped.order_by("-last_at", "phone")[offset : offset + limit])
    if not rows:
        return []
    providers = Provider.objects.in_bulk({row["provider_id"] for row in rows})
    last = Q()
    for row in rows:
        last |= Q(provider_id=row["provider_id"], phone=row["phone"], created_at=row["last_at"])
    latest = {(e.provider_id, e.phone): e for e in InboxMessage.objects.filter(last).order_by("id")}
    contacts = {c.phone: c for c in Contact.objects.filter(phone__in=[row["phone"] for row in rows])}
    result = []
    for row in rows:
        entry = latest.get((row["provider_id"], row["phone"]))
        result.append(
            Conversation(
                provider=providers[row["provider_id"]],
                phone=row["phone"],
                last_at=row["last_at"],
                entries=row["n"],
                last_text=(entry.text or entry.postback_data) if entry else "",
                last_direction=row["last_direction"] or (entry.direction if entry else ""),
                contact=contacts.get(row["phone"]),
            )
        )
    return result


def thread(*, provider: Provider, phone: str) -> list[InboxMessage]:
    """Every entry of one conversation, oldest first, with the message each one answers or carries."""
    return list(
        InboxMessage.objects.filter(provider=provider, phone=phone)
        .select_related("message", "message__campaign", "created_by", "contact")
        .order_by("created_at", "id")
    )


def contact_name(entries: list[InboxMessage]) -> str:
    """The name of the contact a conversation is with: from its latest entry linked to a contact,
    else from any contact with that number."""
    for entry in reversed(entries):
        if entry.contact is not None and entry.contact.name:
            return entry.contact.name
    phone = entries[0].phone if entries else ""
    return next((c.name for c in Contact.objects.filter(phone=phone).order_by("-id")[:20] if c.name), "")


def is_unsubscribed(phone: str) -> bool:
    """The number opted out (STOP) in every audience it is in."""
    contacts = Contact.objects.filter(phone=phone)
    return contacts.exists() and not contacts.filter(subscribed=True).exists()


def inbox_reply(*, provider: Provider, phone: str, text: str, user: User | None) -> InboxMessage:
    """Answer a conversation: queue a TEXT message through the provider's throttle and show it."""
    from .services import message_enqueue

    text = text.strip()
    if not text:
        raise InboxError("Type an answer.")
    errors, _ = validate_content({"type": "TEXT", "text": text, "suggestions": []})
    if errors:
        raise InboxError(" ".join(m for messages in errors.values() for m in messages))
    if not provider.is_active:
        raise InboxError(f"{provider} is disabled or archived; answers cannot be sent through it.")
    if not InboxMessage.objects.filter(provider=provider, phone=phone).exists():
        raise InboxError("There is no conversation with this number.")
    if is_unsubscribed(phone):
        raise InboxError("This number unsubscribed (STOP); it receives no more messages.")
    contact = Contact.objects.filter(phone=phone).order_by("-id").first()
    with transaction.atomic():
        message = message_enqueue(
            provider=provider,
            to=phone,
            content={"type": "TEXT", "text": text, "suggestions": []},
            contact=contact,
        )
        return InboxMessage.objects.create(
            provider=provider,
            phone=phone,
            contact=contact,
            direction=InboxMessage.Direction.OUTBOUND,
            text=text,
            message=message,
            created_by=user,
        )
