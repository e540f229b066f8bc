"""The PostgreSQL storage: the engine's operations as single statements, few round trips each.

On a busy machine each round trip costs a thread wake-up and the GIL, and a batch's slots stay held
until it is stored: fewer round trips free them sooner. Every statement's text is the same for any
batch size (one array parameter per column, `= ANY(%s)`), so psycopg converts it once. The contract
is the package's (`campaigns.storage`).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction

from campaigns import state, stats
from campaigns.models import Campaign, Contact, Message, MessageStatus
from providers.models import ProviderEvent
from rcsconnect.db import bulk_update_statements, loaded_fields
from rcsconnect.webhooks.events import EventType, enqueue, insert_statement

from . import CLAIM_FIELDS, LOCK_FIELDS, WRITE_FIELDS, Claim, ResultBatch, Storage

# The claim returns what writing the message's result reads (LOCK_FIELDS) and the row version.
RETURNED_FIELDS = tuple(dict.fromkeys((*CLAIM_FIELDS, *LOCK_FIELDS)))
CLAIM_SQL = """
WITH picked AS (
    SELECT id FROM {message}
    WHERE provider_id = %(provider)s
      AND ((status = 'queued' AND next_attempt_at <= %(now)s)
           OR (status = 'sending' AND lease_until < %(now)s))
      AND (campaign_id IS NULL OR campaign_id = ANY(%(campaigns)s))
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE {message} AS m SET status = %(to)s, lease_until = %(lease)s, attempts = m.attempts + 1
    FROM picked WHERE m.id = picked.id
    RETURNING {returning}, m.xmin::text AS version
)
SELECT claimed.*, c.attributes, c.subscribed
FROM claimed LEFT JOIN {contact} AS c ON c.id = claimed.contact_id
ORDER BY claimed.id
"""
# Locks the batch's messages (in id order) and says whether every one is still the row version its
# claim wrote: `xmin`, the transaction that wrote a row version, changes with any later write (an
# early callback's, a claim after a lease ran out). Params: the number of messages, their ids, the
# versions.
UNCHANGED_GATE = """SELECT count(*) = %s AS ok FROM (
    SELECT m.id FROM {table} AS m JOIN unnest(%s::bigint[], %s::text[]) AS e(id, version) ON m.id = e.id
    WHERE m.xmin::text = e.version ORDER BY m.id FOR UPDATE OF m
) AS locked"""
_AFTER = "(SELECT true AS after_previous_write)"  # stands for each write's condition until it is known


class PostgresStorage(Storage):
    def claim(
        self, *, provider_id: int, limit: int, campaign_ids: list[int], now: datetime, lease_until: datetime
    ) -> Claim:
        """One statement (one round trip): lock, lease and load the rows together."""
        fields, attnames = loaded_fields(Message, RETURNED_FIELDS)
        sql = CLAIM_SQL.format(
            message=Message._meta.db_table,
            contact=Contact._meta.db_table,
            returning=", ".join(f'm."{f.column}"' for f in fields),
        )
        params = {"provider": provider_id, "now": now, "campaigns": list(campaign_ids), "limit": limit}
        params["lease"], params["to"] = lease_until, state.CLAIM[MessageStatus.QUEUED]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        # Rows as the ORM loads them (`from_db`: positional, in the model's field order; JSON columns
        # go through their fields' from_db_value).
        content = Message._meta.get_field("content")
        contact_attributes = Contact._meta.get_field("attributes")
        alias = connection.alias
        messages = []
        for *values, version, attributes, subscribed in rows:
            message = Message.from_db(alias, attnames, values)
            message.claimed_version = version  # the row version (xmin) the claim wrote
            message.content = content.from_db_value(message.content, None, connection)
            if message.contact_id is not None:
                loaded = contact_attributes.from_db_value(attributes, None, connection)
                message.contact = Contact(
                    pk=message.contact_id, attributes=loaded or {}, subscribed=subscribed is not False
                )
            messages.append(message)
        return Claim(ids=[m.id for m in messages], lease_until=lease_until, messages=messages)

    def write_results(self, batch: ResultBatch) -> None:
        """Outside an open transaction (the engine's writer thread): in one statement when no message
        changed since its claim (`_write_unchanged`), else in one transaction of two round trips:
        `BEGIN; SELECT .. FOR UPDATE`, then every write with `COMMIT`. Inside one (a caller's
        atomic block, tests): the lock, then the writes. The webhook deliveries of the batch's
        status changes are one more write of the same statement (`_outbox`), enqueued after commit."""
        if connection.in_atomic_block:
            with transaction.atomic(), connection.cursor() as cursor:
                batch.apply(_lock_and_load(cursor, batch.ids))
                deliveries = _execute_writes(cursor, batch)
            _enqueue(deliveries)
            return
        with connection.cursor() as cursor:
            versions = batch.claimed and all(getattr(m, "claimed_version", None) for m in batch.claimed)
            if versions:
                unchanged, deliveries = _write_unchanged(cursor, batch)
                if unchanged:
                    _enqueue(deliveries)
                    return
            try:
                batch.apply(_lock_and_load(cursor, batch.ids, begin=True))
                deliveries = _execute_writes(cursor, batch, commit=True)
            except BaseException:
                # Nothing of the batch is stored; the messages stay leased and are claimed again.
                with contextlib.suppress(Exception):
                    cursor.execute("ROLLBACK")
                raise
        _enqueue(deliveries)

    def update_messages(self, messages: Sequence[Message], fields: Sequence[str]) -> None:
        if messages:
            with connection.cursor() as cursor:
                for sql, params in bulk_update_statements(messages, fields):
                    cursor.execute(sql, params)

    def pending_msg_ids(self, msg_ids: list[str]) -> list[str]:
        if not msg_ids:
            return []
        table = ProviderEvent._meta.db_table
        with connection.cursor() as cursor:
            # A constant text (one array parameter): psycopg converts it once, whatever the count.
            cursor.execute(
                f"SELECT DISTINCT msg_id FROM {table} WHERE applied = false AND msg_id = ANY(%s)",  # noqa: S608
                [msg_ids],
            )
            return sorted(row[0] for row in cursor.fetchall())

    def write_contacts(self, audience_id: int, rows: Sequence) -> None:
        """`COPY` into a temporary table, then one `INSERT ... ON CONFLICT (audience, phone) DO UPDATE`."""
        table = Contact._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS import_rows "
                "(phone text, attributes jsonb, subscribed bool) ON COMMIT DELETE ROWS"
            )
            with cursor.copy("COPY import_rows (phone, attributes, subscribed) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row((r.phone, json.dumps(r.attributes), r.subscribed))
            cursor.execute(
                f"INSERT INTO {table} (audience_id, phone, attributes, subscribed, created_at) "  # noqa: S608
                "SELECT %s, phone, attributes, subscribed, now() FROM import_rows "
                "ON CONFLICT (audience_id, phone) DO UPDATE "
                "SET attributes = EXCLUDED.attributes, subscribed = EXCLUDED.subscribed",
                [audience_id],
            )

    def parallel_writers(self) -> bool:
        return not connection.in_atomic_block  # a thread could not see an open transaction's rows


def _writes(batch: ResultBatch, *, where: str = "") -> list[tuple[str, list]]:
    """The messages, the campaign counters and the stat buckets, in the lock order, to send at once;
    `where`: a condition (SQL) every one of them depends on."""
    return [
        *bulk_update_statements(batch.messages, WRITE_FIELDS, where=where),
        *counter_updates(batch.counters, where=where),
        *stats.upsert_statements(batch.recorded, where=where),
    ]


def _outbox(batch: ResultBatch, *, where: str = "") -> tuple[str, list] | None:
    """The webhook deliveries of the batch's status changes, as one INSERT .. RETURNING id (it finds
    the subscribers itself: with none it inserts nothing, at no round trip of its own)."""
    if not batch.status_changes:
        return None
    event = EventType.MESSAGE_STATUS_CHANGED
    sql, params = insert_statement(event, batch.status_changes, at=batch.now, where=where)
    return f"{sql} RETURNING id", params


def _enqueue(deliveries: list[int]) -> None:
    if deliveries:
        transaction.on_commit(lambda: enqueue(deliveries))  # at once when already committed


def _write_unchanged(cursor, batch: ResultBatch) -> tuple[bool, list[int]]:
    """The batch in one statement (one round trip), applied to the messages as their claims left
    them; (False, []), with nothing written, when any of them changed since (then they are
    loaded). Else (True, the webhook deliveries it wrote).

    Each write is a data-modifying CTE that runs only if the gate (`UNCHANGED_GATE`) held for every
    message.
    """
    rows = sorted(batch.claimed or [], key=lambda m: m.id)
    batch.apply(rows)
    ok = "(SELECT ok FROM gate)"
    writes = [(sql + " RETURNING 1", params) for sql, params in _writes(batch, where=_AFTER)]
    outbox = _outbox(batch, where=_AFTER)
    if outbox:
        writes.append(outbox)
    parts = [f"gate AS ({UNCHANGED_GATE.format(table=Message._meta.db_table)})"]
    for n, (sql, _) in enumerate(writes):
        # The sub-statements of a WITH run in no defined order (PostgreSQL manual, 7.8.4): each write
        # reads the one before it to completion first, so the rows are locked in the global order
        # (messages, campaigns by id, stat buckets, error buckets by key; docs/engine.md).
        after = ok if n == 0 else f"{ok} AND (SELECT count(*) FROM w{n - 1}) >= 0"  # noqa: S608
        parts.append(f"w{n} AS ({sql.replace(_AFTER, after)})")
    returned = f"ARRAY(SELECT id FROM w{len(writes) - 1})" if outbox else "NULL"  # noqa: S608
    sql = f"WITH {', '.join(parts)} SELECT ok, {returned} FROM gate"  # noqa: S608 - generated statements, values are params
    params = [len(rows), [m.id for m in rows], [m.claimed_version for m in rows]]
    params += [p for _, ps in writes for p in ps]
    cursor.execute(sql, params)
    unchanged, deliveries = cursor.fetchone()
    return bool(unchanged), list(deliveries or []) if unchanged else []


def _execute_writes(cursor, batch: ResultBatch, *, commit: bool = False) -> list[int]:
    """The batch's writes in one round trip (`COMMIT` too if `commit`); returns the ids of the webhook
    deliveries it wrote. The deliveries' insert comes first, so its rows are the first result."""
    outbox = _outbox(batch)
    statements = [*([outbox] if outbox else []), *_writes(batch), *([("COMMIT", [])] if commit else [])]
    _execute_all(cursor, statements)
    return [row[0] for row in cursor.fetchall()] if outbox else []


def _execute_all(cursor, statements: list[tuple[str, list]]) -> None:
    """Several statements in one round trip (client-side parameter binding allows it)."""
    if statements:
        cursor.execute("; ".join(sql for sql, _ in statements), [p for _, ps in statements for p in ps])


def _lock_and_load(cursor, ids: list[int], *, begin: bool = False) -> list[Message]:
    """Lock and load the batch's rows in id order without the ORM's compiler (`begin`: opening the
    transaction in the same round trip). The ORM's compilation and one placeholder per id were most
    of a batch's CPU."""
    sql, loaded = _lock_statement()
    cursor.execute(f"BEGIN; {sql}" if begin else sql, [ids])
    if begin:
        cursor.nextset()  # past BEGIN's result, to the rows
    alias = connection.alias
    return [Message.from_db(alias, loaded, row) for row in cursor.fetchall()]


@functools.cache
def _lock_statement() -> tuple[str, frozenset[str]]:
    """The lock-and-load statement and the attnames it loads, in the model's field order (which
    Model.from_db expects)."""
    fields, attnames = loaded_fields(Message, LOCK_FIELDS)
    columns = ", ".join(f'"{f.column}"' for f in fields)
    sql = (
        f"SELECT {columns} FROM {Message._meta.db_table} "  # noqa: S608 - names from the model
        "WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
    )
    return sql, attnames


def counter_updates(counters: dict[int, Counter], *, where: str = "") -> list[tuple[str, list]]:
    """Campaign counter increments, one UPDATE per campaign, in id order (the lock order); `where`:
    a further condition (SQL) they depend on."""
    statements = []
    for campaign_id in sorted(c for c in counters if c):
        deltas = {k: v for k, v in counters[campaign_id].items() if v}
        if deltas:
            sets = ", ".join(f"{name} = {name} + %s" for name in deltas)
            sql = f"UPDATE {Campaign._meta.db_table} SET {sets} WHERE id = %s"  # noqa: S608
            sql += f" AND {where}" if where else ""
            statements.append((sql, [*deltas.values(), campaign_id]))
    return statements
