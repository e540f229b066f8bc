"""The global lock order (docs/engine.md): messages by id -> campaign rows by id -> stat buckets ->
error buckets by key, on every path that writes them; a deadlock that still happens is retried."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from django.db import connection, connections

from campaigns.engine.claim import claim
from campaigns.engine.results import DONE_SENT, Result, write_results
from campaigns.models import Campaign, Message, MessageStatus, StatBucket
from campaigns.services import campaign_start
from tests.postgresql import postgresql_only

from .conftest import make_campaign

needs_postgres = postgresql_only("row locks and their order are PostgreSQL's (SQLite locks the database)")
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)


def _other_connection():
    """A second connection of the test database, in a transaction (closed by the caller)."""
    other = connections.create_connection("default")
    other.set_autocommit(False)
    return other


def _waiting(pid_of_writer: list[int]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", pid_of_writer)
        row = cursor.fetchone()
    return bool(row) and row[0] == "Lock"


def _locked_at_once(select: str, params: list) -> list:
    """The rows of `select`, locked by a third connection with NOWAIT (it raises if another holds one)."""
    probe = _other_connection()
    try:
        with probe.cursor() as cursor:
            cursor.execute(f"{select} FOR UPDATE NOWAIT", params)
            rows = cursor.fetchall()
        probe.rollback()
        return rows
    finally:
        probe.close()


def _start_until_it_waits(work) -> tuple[threading.Thread, bool]:
    """Run `work` in a thread (its own connection); return the thread once that connection waits for
    a lock, with whether it does (False after 10 s without)."""
    pid: list[int] = []

    def run():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid.append(cursor.fetchone()[0])
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 10
    while not (pid and _waiting(pid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return thread, bool(pid and _waiting(pid))


def test_the_one_statement_result_write_locks_the_campaign_row_before_the_stat_bucket():
    campaign = campaign_start(campaign_id=make_campaign(size=2).pk)
    first, second = sorted(
        claim(provider_id=campaign.provider_id, limit=2, lease_seconds=30).messages, key=lambda m: m.id
    )
    write_results([Result(first.id, DONE_SENT, row=first)])  # the hour's stat bucket exists now
    assert StatBucket.objects.filter(campaign=campaign).count() == 1

    holder = _other_connection()
    with holder.cursor() as cursor:  # someone holds the campaign row (an event applier, say)
        cursor.execute("SELECT id FROM campaigns_campaign WHERE id = %s FOR UPDATE", [campaign.pk])
    thread, waiting = _start_until_it_waits(
        lambda: write_results([Result(second.id, DONE_SENT, row=second)])  # one statement (the gate)
    )
    assert waiting, "the writer should wait for the campaign row"
    # While the writer waits for the campaign row it holds no stat bucket: a third writer gets it at once.
    try:
        assert _locked_at_once("SELECT id FROM campaigns_statbucket WHERE campaign_id = %s", [campaign.pk])
    finally:
        holder.rollback()
        holder.close()
    thread.join(10)
    assert not thread.is_alive()
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.processed_count) == (2, 2)
    assert StatBucket.objects.get(campaign=campaign).sent == 2


@pytest.fixture
def deadlock_once():
    """A SQL function that fails its first call as a deadlock victim does (SQLSTATE 40P01). Its memory
    is a sequence: `nextval` is not rolled back with the failed transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE SEQUENCE test_deadlock_once_seq;"
            "CREATE FUNCTION test_deadlock_once() RETURNS boolean AS $$ BEGIN"
            " IF nextval('test_deadlock_once_seq') = 1 THEN"
            "  RAISE EXCEPTION 'deadlock detected (test)' USING ERRCODE = '40P01';"
            " END IF; RETURN true; END $$ LANGUAGE plpgsql"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP FUNCTION test_deadlock_once(); DROP SEQUENCE test_deadlock_once_seq")


@pytest.mark.parametrize("one_statement", [True, False])
def test_a_result_write_that_meets_a_deadlock_is_retried_in_place_and_counted_once(
    monkeypatch, caplog, deadlock_once, one_statement
):
    """The first attempt fails after it locked its messages and applied the results in memory; the
    retry starts again from the rows as stored, and everything is counted once."""
    from campaigns.storage import postgresql

    real = postgresql.counter_updates

    def counter_updates(counters, **kw):
        table = Campaign._meta.db_table
        where = f" AND {kw['where']}" if kw.get("where") else ""
        victim = (f"UPDATE {table} SET name = name WHERE NOT test_deadlock_once(){where}", [])  # noqa: S608
        return [*real(counters, **kw), victim]

    monkeypatch.setattr(postgresql, "counter_updates", counter_updates)
    campaign = campaign_start(campaign_id=make_campaign(size=2).pk)
    rows = claim(provider_id=campaign.provider_id, limit=2, lease_seconds=30).messages
    batch = [Result(m.id, DONE_SENT, vendor_id=f"v{m.id}", row=m if one_statement else None) for m in rows]
    with caplog.at_level(logging.WARNING, logger="rcsconnect.db"):
        sent = write_results(batch)
    assert "writing send results" in caplog.text and "retrying" in caplog.text
    assert sorted(sent) == sorted(m.msg_id for m in rows)
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.processed_count) == (2, 2)
    assert StatBucket.objects.get(campaign=campaign).sent == 2
    statuses = set(Message.objects.filter(campaign=campaign).values_list("status", flat=True))
    assert statuses == {MessageStatus.SENT}


def test_an_event_batch_that_meets_a_deadlock_is_retried_in_place_and_counted_once(
    monkeypatch, caplog, deadlock_once
):
    from campaigns import events
    from providers.models import ProviderEvent

    campaign = campaign_start(campaign_id=make_campaign(size=2).pk)
    rows = claim(provider_id=campaign.provider_id, limit=2, lease_seconds=30).messages
    write_results([Result(m.id, DONE_SENT) for m in rows])
    for m in rows:
        ProviderEvent.objects.create(
            provider_id=campaign.provider_id,
            msg_id=m.msg_id,
            channel="RCS",
            status="delivered",
            dedupe_key=m.msg_id,
        )
    real = events._write

    def write(*args):
        real(*args)
        with connection.cursor() as cursor:  # the first attempt fails after every write but the stats
            cursor.execute("SELECT test_deadlock_once()")

    monkeypatch.setattr(events, "_write", write)
    with caplog.at_level(logging.WARNING, logger="rcsconnect.db"):
        result = events.apply_pending_for([m.msg_id for m in rows])
    assert "applying events" in caplog.text and "retrying" in caplog.text
    assert result.applied == 2
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.delivered_rcs_count) == (2, 2)
    assert StatBucket.objects.get(campaign=campaign).delivered_rcs == 2
    assert not ProviderEvent.objects.filter(applied=False).exists()


def test_cancel_locks_the_messages_before_the_campaign_row():
    from campaigns.services import campaign_cancel

    campaign = campaign_start(campaign_id=make_campaign(size=3).pk)
    queued = Message.objects.filter(campaign=campaign).order_by("id").first()
    holder = _other_connection()
    with holder.cursor() as cursor:  # a writer holds one of the queued messages (an event applier)
        cursor.execute("SELECT id FROM campaigns_message WHERE id = %s FOR UPDATE", [queued.pk])
    thread, waiting = _start_until_it_waits(lambda: campaign_cancel(campaign_id=campaign.pk))
    assert waiting, "cancel should wait for the message"
    try:  # cancel holds no campaign row while it waits for a message
        assert _locked_at_once("SELECT id FROM campaigns_campaign WHERE id = %s", [campaign.pk])
    finally:
        holder.rollback()
        holder.close()
    thread.join(10)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.cancelled_count, campaign.processed_count) == ("cancelled", 3, 3)
