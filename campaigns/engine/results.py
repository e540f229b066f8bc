"""Writing send results in batches: one short transaction per batch, counters moved with F()."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from campaigns import notify, state, stats
from campaigns.models import Campaign, Message, MessageStatus
from campaigns.state import UNFINISHED, Change, counter_field
from rcsconnect.db import bulk_update, bulk_update_statements, loaded_fields, retry_on_conflict
from rcsconnect.webhooks.events import EventType, emit

from .retry import retry_delay

log = logging.getLogger(__name__)

# What happened to one claimed message.
DONE_SENT, DONE_FAILED, DONE_RETRY, DONE_RELEASE, DONE_CANCEL = "sent", "failed", "retry", "release", "cancel"

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


# Status changes integrators hear about (docs/webhooks.md): not a message going back to the queue.
NOTIFIED = frozenset(MessageStatus.values) - frozenset(UNFINISHED)

# What a result needs of its message, locked and loaded before it is applied.
LOCK_FIELDS = (
    "id",
    "campaign_id",
    "provider_id",
    "msg_id",
    "to",  # for the webhook event a status change emits
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


def write_results(results: list[Result]) -> list[str]:
    """Apply results; returns the msgIds that became sent (for callbacks that arrived early).

    A deadlock or serialization failure (which the lock order below should make impossible) is
    retried in place (`retry_on_conflict`); the retry loads the messages again, never reusing the
    rows the failed attempt changed in memory.
    """
    if not results:
        return []
    first = [True]

    def attempt() -> list[str]:
        batch = results if first[0] else [dataclasses.replace(r, row=None) for r in results]
        first[0] = False
        return _write(batch)

    batch = retry_on_conflict(attempt, what="writing send results")
    emit(EventType.MESSAGE_STATUS_CHANGED, batch.status_changes)  # committed: sent by tasks from here
    return batch.sent_ids


def _write(results: list[Result]) -> _Batch:
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        return _write_postgresql(results)
    batch = _Batch(results)
    with transaction.atomic():
        batch.apply(_locked(list(batch.by_id)))
        if connection.vendor == "postgresql":
            if statements := batch.statements():
                with connection.cursor() as cursor:
                    _execute_all(cursor, statements)
        else:
            bulk_update(batch.messages, WRITE_FIELDS)
            for campaign_id, deltas in batch.counters.items():
                if campaign_id and (updates := {k: F(k) + v for k, v in deltas.items() if v}):
                    Campaign.objects.filter(pk=campaign_id).update(**updates)
            stats.record(batch.recorded)
    return batch


class _Batch:
    """One batch of results applied to its locked messages, in memory."""

    def __init__(self, results: list[Result]) -> None:
        self.now = timezone.now()
        self.by_id = {r.message_id: r for r in results}
        self.counters: dict[int, Counter] = defaultdict(Counter)
        self.sent_ids: list[str] = []
        self.recorded: list[tuple] = []
        self.messages: list[Message] = []
        self.status_changes: list[dict] = []  # webhook events, emitted once the batch is stored

    def apply(self, messages: list[Message]) -> None:
        self.messages = messages
        for message in messages:
            code_before, status_before = message.error_code, message.status
            change = _apply(message, self.by_id[message.id], self.now, self.counters, self.sent_ids)
            if change is not None and change.counters:
                self.recorded.append((message, change, code_before))
            if message.status != status_before and message.status in NOTIFIED:
                self.status_changes.append(notify.message_status_changed(message, status_before, self.now))

    def statements(self, *, where: str = "") -> list[tuple[str, list]]:
        """PostgreSQL: the messages, the campaign counters and the stat buckets, to send at once;
        `where`: a condition (SQL) every one of them depends on."""
        return [
            *bulk_update_statements(self.messages, WRITE_FIELDS, where=where),
            *_counter_updates(self.counters, where=where),
            *stats.upsert_statements(self.recorded, where=where),
        ]


def _write_postgresql(results: list[Result]) -> _Batch:
    """The batch outside any open transaction (the engine's writer thread): in one statement when
    no message changed since its claim (`_write_unchanged`), else in one transaction of two round
    trips: `BEGIN; SELECT .. FOR UPDATE`, then every write with `COMMIT`.

    Through Django's atomic() the same takes four (BEGIN, the lock, the writes, COMMIT). On a busy
    machine each round trip costs a thread wake-up and the GIL, and a batch's slots stay held until
    it is stored: fewer round trips free them sooner.
    """
    if all(getattr(r.row, "claimed_version", None) for r in results):
        unchanged = _write_unchanged(results)
        if unchanged is not None:
            return unchanged
    batch = _Batch(results)
    with connection.cursor() as cursor:
        try:
            batch.apply(_lock_and_load(cursor, list(batch.by_id), begin=True))
            _execute_all(cursor, [*batch.statements(), ("COMMIT", [])])
        except BaseException:
            # Nothing of the batch is stored; the messages stay leased and are claimed again.
            with contextlib.suppress(Exception):
                cursor.execute("ROLLBACK")
            raise
    return batch


# Locks the batch's messages (in id order) and says whether every one is still the row version its
# claim wrote: `xmin`, the transaction that wrote a row version, changes with any later write (an
# early callback's, a claim after a lease ran out). Params: the number of messages, their ids, the
# versions.
UNCHANGED_GATE = """SELECT count(*) = %s AS ok FROM (
    SELECT m.id FROM {table} AS m JOIN unnest(%s::bigint[], %s::text[]) AS e(id, version) ON m.id = e.id
    WHERE m.xmin::text = e.version ORDER BY m.id FOR UPDATE OF m
) AS locked"""


_AFTER = "(SELECT true AS after_previous_write)"  # stands for each write's condition until it is known


def _write_unchanged(results: list[Result]) -> _Batch | None:
    """The batch in one statement (one round trip), applied to the messages as their claims left
    them; None, with nothing written, when any of them changed since (the caller loads them then).

    The same `_Batch` as the general path, so the same rows, counters and stat buckets: each write
    is a data-modifying CTE that runs only if the gate (`UNCHANGED_GATE`) held for every message.
    """
    rows = {r.message_id: r.row for r in results}
    batch = _Batch(results)
    batch.apply(sorted(rows.values(), key=lambda m: m.id))
    ok = "(SELECT ok FROM gate)"
    writes = batch.statements(where=_AFTER)
    parts = [f"gate AS ({UNCHANGED_GATE.format(table=Message._meta.db_table)})"]
    for n, (sql, _) in enumerate(writes):
        # The sub-statements of a WITH run in no defined order (PostgreSQL manual, 7.8.4): each write
        # reads the one before it to completion first, so the rows are locked in the global order
        # (messages, campaigns by id, stat buckets, error buckets by key; docs/engine.md).
        after = ok if n == 0 else f"{ok} AND (SELECT count(*) FROM w{n - 1}) >= 0"  # noqa: S608
        parts.append(f"w{n} AS ({sql.replace(_AFTER, after)} RETURNING 1)")
    sql = f"WITH {', '.join(parts)} SELECT ok FROM gate"  # noqa: S608 - generated statements, values are params
    params = [len(rows), list(rows), [m.claimed_version for m in rows.values()]]
    params += [p for _, ps in writes for p in ps]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (unchanged,) = cursor.fetchone()
    return batch if unchanged else None


def _execute_all(cursor, statements: list[tuple[str, list]]) -> None:
    """Several statements in one round trip (client-side parameter binding allows it)."""
    cursor.execute("; ".join(sql for sql, _ in statements), [p for _, ps in statements for p in ps])


def _locked(ids: list[int]) -> list[Message]:
    """The batch's messages, locked (`SELECT ... FOR UPDATE`), in id order.

    On PostgreSQL a statement whose text does not depend on the batch (`id = ANY(array)`), rows
    loaded without compiling a query: this runs once per batch of results, the ORM's compilation
    and psycopg's conversion of one placeholder per id were most of a batch's CPU.
    """
    if connection.vendor != "postgresql":
        locked = Message.objects.select_for_update(of=("self",)).filter(id__in=ids)
        return list(locked.order_by("id").only(*LOCK_FIELDS))
    with connection.cursor() as cursor:
        return _lock_and_load(cursor, ids)


def _lock_and_load(cursor, ids: list[int], *, begin: bool = False) -> list[Message]:
    """PostgreSQL: lock and load the rows (`begin`: opening the transaction in the same round trip)."""
    sql, loaded = _lock_statement()
    cursor.execute(f"BEGIN; {sql}" if begin else sql, [ids])
    if begin:
        cursor.nextset()  # past BEGIN's result, to the rows
    alias = connection.alias
    return [Message.from_db(alias, loaded, row) for row in cursor.fetchall()]


@functools.cache
def _lock_statement() -> tuple[str, frozenset[str]]:
    """The PostgreSQL lock-and-load statement and the attnames it loads, in the model's field order
    (which Model.from_db expects)."""
    fields, attnames = loaded_fields(Message, LOCK_FIELDS)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    sql = (
        f"SELECT {columns} FROM {Message._meta.db_table} "  # noqa: S608 - names from the model
        "WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
    )
    return sql, attnames


def _apply(
    message: Message, result: Result, now, counters: dict[int, Counter], sent_ids: list[str]
) -> Change | None:
    """The result as a transition of the message state machine; the counters follow from it."""
    outcome, refund, next_attempt_at = result.kind, False, None
    if outcome in (DONE_RELEASE, DONE_CANCEL) or (outcome == DONE_RETRY and result.free):
        refund = True
        next_attempt_at = now + timedelta(seconds=result.retry_after or 0)
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
}


def _counter_updates(counters: dict[int, Counter], *, where: str = "") -> list[tuple[str, list]]:
    """Campaign counter increments, one UPDATE per campaign, in id order (no deadlocks between writers);
    `where`: a further condition (SQL) they depend on."""
    statements = []
    for campaign_id in sorted(c for c in counters if c):
        deltas = {k: v for k, v in counters[campaign_id].items() if v}
        if deltas:
            sets = ", ".join(f"{name} = {name} + %s" for name in deltas)
            sql = f"UPDATE {Campaign._meta.db_table} SET {sets} WHERE id = %s"  # noqa: S608
            sql += f" AND {where}" if where else ""
            statements.append((sql, [*deltas.values(), campaign_id]))
    return statements


def _count(tally: Counter, change) -> None:
    for name, delta in change.counters.items():
        tally[counter_field(name)] += delta
