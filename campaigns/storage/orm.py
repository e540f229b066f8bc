"""The portable storage: the engine's operations through the ORM, in short transactions.

The embedded default (SQLite, whose IMMEDIATE transactions serialise writers, so a claim and a
result write never interleave) and any database without an implementation of its own. The contract
is the package's (`campaigns.storage`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from campaigns import state, stats
from campaigns.models import Campaign, Contact, Message, MessageStatus
from providers.models import ProviderEvent
from rcsconnect.webhooks.events import EventType, emit

from . import CLAIM_FIELDS, LOCK_FIELDS, WRITE_FIELDS, Claim, ResultBatch, Storage, due_filter

CHUNK = 1000  # ids per IN (...) list: below SQLite's parameter limit


class OrmStorage(Storage):
    def claim(
        self, *, provider_id: int, limit: int, campaign_ids: list[int], now: datetime, lease_until: datetime
    ) -> Claim:
        with transaction.atomic():
            ids = list(
                Message.objects.filter(due_filter(provider_id, campaign_ids, now))
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("id", flat=True)[:limit]
            )
            if not ids:
                return Claim(ids=[], lease_until=lease_until, messages=[])
            Message.objects.filter(id__in=ids).update(
                status=state.CLAIM[MessageStatus.QUEUED], lease_until=lease_until, attempts=F("attempts") + 1
            )
            messages = list(
                Message.objects.filter(id__in=ids)
                .select_related("contact")
                .only(*CLAIM_FIELDS, "contact__attributes", "contact__subscribed")
                .order_by("id")
            )
        return Claim(ids=[m.id for m in messages], lease_until=lease_until, messages=messages)

    def write_results(self, batch: ResultBatch) -> None:
        with transaction.atomic():
            locked = Message.objects.select_for_update(of=("self",)).filter(id__in=batch.ids)
            batch.apply(list(locked.order_by("id").only(*LOCK_FIELDS)))
            self.update_messages(batch.messages, WRITE_FIELDS)
            for campaign_id in sorted(c for c in batch.counters if c):
                deltas = batch.counters[campaign_id]
                if updates := {k: F(k) + v for k, v in deltas.items() if v}:
                    Campaign.objects.filter(pk=campaign_id).update(**updates)
            stats.record(batch.recorded)
            emit(EventType.MESSAGE_STATUS_CHANGED, batch.status_changes)  # enqueued once committed

    def update_messages(self, messages: Sequence[Message], fields: Sequence[str]) -> None:
        if messages:
            Message.objects.bulk_update(messages, list(fields))

    def write_contacts(self, audience_id: int, rows: Sequence) -> None:
        now = timezone.now()
        Contact.objects.bulk_create(
            [
                Contact(
                    audience_id=audience_id,
                    phone=r.phone,
                    attributes=r.attributes,
                    subscribed=r.subscribed,
                    created_at=now,
                )
                for r in rows
            ],
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["audience", "phone"],
            update_fields=["attributes", "subscribed"],
        )

    def pending_msg_ids(self, msg_ids: list[str]) -> list[str]:
        found: set[str] = set()
        for start in range(0, len(msg_ids), CHUNK):
            pending = ProviderEvent.objects.filter(applied=False, msg_id__in=msg_ids[start : start + CHUNK])
            found.update(pending.values_list("msg_id", flat=True))
        return sorted(found)
