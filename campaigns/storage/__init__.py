"""Where the engine and the event applier keep message state: one interface, two implementations.

Nothing outside this package asks which database it runs on; it asks `storage()`:
- `postgresql.PostgresStorage`: single statements, one round trip each where it can (the claim, a
  batch of send results; `COPY` for an import's rows), array parameters so a statement's text
  never depends on a batch's size.
- `orm.OrmStorage`: the same operations through the ORM, in short transactions. The embedded
  default (SQLite) and any other database Django supports; SQLite serialises writers, so the same
  statements are safe there.

The contract both keep (tests/campaigns run on SQLite and on PostgreSQL):
- `claim`: lease up to `limit` due messages of a provider in one short transaction and return them
  loaded (with their contact's attributes and whether it is still subscribed: the send rules'
  opt-out check). Due: queued with `next_attempt_at` passed, or sending
  with `lease_until` passed. That second half is lease expiry: a message whose worker died is
  claimed again, with the same msgId. The transition is `campaigns.state.CLAIM`. Concurrent claims
  take disjoint rows and never wait for each other (`SKIP LOCKED`).
- `write_results`: one batch of send results in one transaction: lock the batch's messages in id
  order, let the batch apply its results to them (`ResultBatch.apply`, i.e. `state.send_outcome`),
  store the messages, then the campaign counters (campaigns by id), then the stat buckets, and
  in the same transaction the webhook deliveries of its status changes (`ResultBatch.status_changes`,
  enqueued once it commits; rcsconnect.webhooks.events). On any error nothing is stored. The lock
  order is the global one in docs/engine.md.
- `update_messages`: store these fields of these messages (inside the caller's transaction; the
  event applier's write).
- `pending_msg_ids`: which of these msgIds have vendor events waiting (a read, no transaction).
- `write_contacts`: insert an import's chunk of rows (`.phone`, `.attributes`, `.subscribed`) into
  an audience in one transaction; a number already in the audience is updated.
- `parallel_writers`: whether a thread on a connection of its own may write while this connection
  does (the result writer thread, the fan-out's threads, the import's chunk writer): PostgreSQL
  outside an open transaction only.
- `next_due_at`: when the provider's next message becomes due (a retry, or a lease running out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from django.db import connection
from django.db.models import Q

from campaigns.models import Message, MessageStatus

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Sequence

# Claimed rows, with the fields the dispatcher sends from (the contact's attributes come along).
CLAIM_FIELDS = (
    "id",
    "msg_id",
    "to",
    "campaign_id",
    "contact_id",
    "content",
    "sms_fallback",
    "attempts",
    "variant",  # an A/B campaign's message is built from its variant's template (engine.build)
)
# What writing a send result changes on a message.
WRITE_FIELDS = [
    "status",
    "lease_until",
    "attempts",
    "next_attempt_at",
    "sent_at",
    "failed_at",
    "error_code",
    "error_message",
    "vendor_id",
]
# What a result needs of its message, locked and loaded before it is applied.
LOCK_FIELDS = (
    "id",
    "campaign_id",
    "provider_id",
    "msg_id",
    "to",  # for the webhook event a status change emits (campaigns.notify)
    "sms_fallback",
    "rcs_status",
    "sms_status",
    "delivered_via",
    "clicked_at",
    "replied_at",
    "read_at",
    "delivered_at",
    *WRITE_FIELDS,
)


@dataclass(frozen=True)
class Claim:
    ids: list[int]
    lease_until: datetime
    # The claimed rows, with their contact's attributes. On PostgreSQL as the claim left them (every
    # LOCK_FIELDS field and the row version, `claimed_version`), so that a result can be written
    # without loading the row again.
    messages: list[Message]


class ResultBatch(Protocol):
    """A batch of send results, as `write_results` sees it (campaigns.engine.results.Batch)."""

    ids: list[int]  # the batch's message ids, ascending
    claimed: list[Message] | None  # the rows as their claim left them (with versions), if known
    messages: list[Message]  # after `apply`: the messages to store
    counters: dict[int, Counter]  # after `apply`: campaign id -> counter deltas
    recorded: list[tuple]  # after `apply`: the changes for the stat buckets (`campaigns.stats`)
    status_changes: list[dict]  # after `apply`: `message.status_changed` webhook data (campaigns.notify)
    now: datetime  # after `apply`: when it was applied

    def apply(self, messages: list[Message]) -> None: ...


class Storage:
    """The operations; see the module docstring for what each promises."""

    def claim(
        self, *, provider_id: int, limit: int, campaign_ids: list[int], now: datetime, lease_until: datetime
    ) -> Claim:
        raise NotImplementedError

    def write_results(self, batch: ResultBatch) -> None:
        raise NotImplementedError

    def update_messages(self, messages: Sequence[Message], fields: Sequence[str]) -> None:
        raise NotImplementedError

    def pending_msg_ids(self, msg_ids: list[str]) -> list[str]:
        raise NotImplementedError

    def write_contacts(self, audience_id: int, rows: Sequence) -> None:
        raise NotImplementedError

    def parallel_writers(self) -> bool:
        return False

    def next_due_at(
        self, *, provider_id: int, campaign_ids: list[int], leased: bool = True
    ) -> datetime | None:
        owners = Q(campaign__isnull=True) | Q(campaign_id__in=campaign_ids)
        base = Message.objects.filter(owners, provider_id=provider_id)
        queued = base.filter(status=MessageStatus.QUEUED).order_by("next_attempt_at")
        times = list(queued.values_list("next_attempt_at", flat=True)[:1])
        if leased:
            leases = base.filter(status=MessageStatus.SENDING).order_by("lease_until")
            times += leases.values_list("lease_until", flat=True)[:1]
        times = [t for t in times if t is not None]
        return min(times) if times else None


def due_filter(provider_id: int, campaign_ids: list[int], now: datetime) -> Q:
    """The claim's rows: due (queued and due, or leased with the lease run out), of the provider's
    sending campaigns (`campaign_ids`) or transactional."""
    due = Q(status=MessageStatus.QUEUED, next_attempt_at__lte=now) | Q(
        status=MessageStatus.SENDING, lease_until__lt=now
    )
    owners = Q(campaign__isnull=True)
    if campaign_ids:
        owners |= Q(campaign_id__in=campaign_ids)
    return Q(provider_id=provider_id) & due & owners


_implementations: dict[str, Storage] = {}


def storage() -> Storage:
    """The storage of the default database (the one choice between implementations)."""
    vendor = connection.vendor
    found = _implementations.get(vendor)
    if found is None:
        if vendor == "postgresql":
            from .postgresql import PostgresStorage as implementation
        else:
            from .orm import OrmStorage as implementation
        found = _implementations[vendor] = implementation()
    return found
