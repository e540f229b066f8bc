"""Claiming: disjoint chunks, leases, reclaim after a dead worker with the same msgId, results."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.engine.claim import claim
from campaigns.engine.results import DONE_FAILED, DONE_RELEASE, DONE_RETRY, DONE_SENT, Result, write_results
from campaigns.models import Campaign, ErrorBucket, Message, MessageStatus, StatBucket
from campaigns.services import campaign_cancel, campaign_pause, campaign_start

from .conftest import make_campaign


def _writes(queries) -> list[str]:
    """The statements of a result write, less the ORM storage's outgoing-webhook subscribers lookup
    (rcsconnect.webhooks.events.subscribers: one small SELECT per batch, in its transaction; the
    PostgreSQL storage looks them up inside its one statement)."""
    lookup = 'SELECT "webhooks_webhook"'
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(lookup)]


@pytest.fixture(autouse=True)
def _no_dispatch(monkeypatch):
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)


def started(size=10, **kw) -> Campaign:
    campaign = make_campaign(size=size, **kw)
    return campaign_start(campaign_id=campaign.pk)


@pytest.mark.django_db
def test_claim_leases_due_messages_of_sending_campaigns_only():
    campaign = started(10)
    other = started(5)
    campaign_pause(campaign_id=other.pk)
    got = claim(provider_id=campaign.provider_id, limit=4, lease_seconds=30)
    assert len(got.ids) == 4
    rows = Message.objects.filter(id__in=got.ids)
    assert {m.status for m in rows} == {MessageStatus.SENDING}
    assert {m.attempts for m in rows} == {1}
    assert all(m.lease_until == got.lease_until for m in rows)
    rest = claim(provider_id=campaign.provider_id, limit=100, lease_seconds=30)
    assert len(rest.ids) == 6 and not set(rest.ids) & set(got.ids)
    assert claim(provider_id=campaign.provider_id, limit=100, lease_seconds=30).ids == []
    assert claim(provider_id=other.provider_id, limit=100, lease_seconds=30).ids == []  # paused


@pytest.mark.django_db
def test_expired_lease_is_claimed_again_with_the_same_msg_id():
    campaign = started(3)
    first = claim(provider_id=campaign.provider_id, limit=3, lease_seconds=30)
    msg_ids = set(Message.objects.filter(id__in=first.ids).values_list("msg_id", flat=True))
    Message.objects.filter(id__in=first.ids).update(lease_until=timezone.now() - timedelta(seconds=1))
    again = claim(provider_id=campaign.provider_id, limit=10, lease_seconds=30)
    assert set(again.ids) == set(first.ids)
    assert set(Message.objects.filter(id__in=again.ids).values_list("msg_id", flat=True)) == msg_ids
    assert set(Message.objects.filter(id__in=again.ids).values_list("attempts", flat=True)) == {2}


@pytest.mark.django_db
def test_results_move_status_and_counters(settings):
    settings.RCS_MAX_ATTEMPTS = 2
    campaign = started(4)
    got = claim(provider_id=campaign.provider_id, limit=4, lease_seconds=30)
    a, b, c, d = sorted(got.ids)
    write_results(
        [
            Result(a, DONE_SENT, vendor_id="v-1"),
            Result(b, DONE_FAILED, error_code="2002", error_message="invalid phone"),
            Result(c, DONE_RETRY, error_code="500", error_message="server error", retry_after=30),
            Result(d, DONE_RELEASE),
        ]
    )
    ma, mb, mc, md = (Message.objects.get(pk=i) for i in (a, b, c, d))
    assert (ma.status, ma.vendor_id, ma.lease_until) == (MessageStatus.SENT, "v-1", None)
    assert ma.sent_at is not None
    assert (mb.status, mb.error_code) == (MessageStatus.FAILED, "2002")
    assert mc.status == MessageStatus.QUEUED and mc.attempts == 1
    assert mc.next_attempt_at >= timezone.now() + timedelta(seconds=29)  # Retry-After honoured
    assert md.status == MessageStatus.QUEUED and md.attempts == 0  # a release is not an attempt
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.failed_count, campaign.processed_count) == (1, 1, 2)

    # The second failed attempt of c is the last one: failed with the reason.
    Message.objects.filter(pk=c).update(next_attempt_at=timezone.now())
    again = claim(provider_id=campaign.provider_id, limit=4, lease_seconds=30)
    assert c in again.ids
    write_results([Result(c, DONE_RETRY, error_code="timeout", error_message="read timed out")])
    mc.refresh_from_db()
    assert mc.status == MessageStatus.FAILED and mc.error_code == "timeout"
    assert "Gave up after 2 attempts" in mc.error_message


@pytest.mark.django_db
def test_a_result_for_a_message_a_callback_already_finished_counts_once():
    campaign = started(1)
    got = claim(provider_id=campaign.provider_id, limit=1, lease_seconds=30)
    deliver_early(got.ids[0])  # the vendor's delivery report, applied before the send's result
    campaign.refresh_from_db()
    assert (campaign.processed_count, campaign.sent_count, campaign.delivered_rcs_count) == (1, 1, 1)
    write_results([Result(got.ids[0], DONE_SENT)])
    write_results([Result(got.ids[0], DONE_SENT)])  # a duplicate from a worker that re-claimed it
    m = Message.objects.get(pk=got.ids[0])
    assert m.status == MessageStatus.DELIVERED
    campaign.refresh_from_db()
    assert (campaign.processed_count, campaign.sent_count, campaign.delivered_rcs_count) == (1, 1, 1)


def deliver_early(message_id: int) -> None:
    """A delivery report for the message, applied by the event applier (as the callback would)."""
    from campaigns.events import apply_pending_for
    from providers.models import ProviderEvent

    message = Message.objects.get(pk=message_id)
    ProviderEvent.objects.create(
        provider_id=message.provider_id,
        msg_id=message.msg_id,
        channel="RCS",
        status="delivered",
        dedupe_key=f"early-{message.msg_id}",
    )
    assert apply_pending_for([message.msg_id]).applied == 1


@pytest.mark.django_db
def test_cancel_cancels_queued_messages():
    campaign = started(5)
    claim(provider_id=campaign.provider_id, limit=2, lease_seconds=30)
    cancelled = campaign_cancel(campaign_id=campaign.pk)
    assert cancelled.status == Campaign.Status.CANCELLED
    assert cancelled.cancelled_count == 3
    assert Message.objects.filter(campaign=campaign, status=MessageStatus.SENDING).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_overlap_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("row locking (FOR UPDATE SKIP LOCKED) is tested on PostgreSQL")
    campaign = started(400)
    claimed: list[list[int]] = []
    lock = threading.Lock()

    def worker():
        from django.db import connections

        try:
            while True:
                got = claim(provider_id=campaign.provider_id, limit=7, lease_seconds=30)
                if not got.ids:
                    return
                with lock:
                    claimed.append(got.ids)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for chunk in claimed for i in chunk]
    assert len(flat) == 400 == len(set(flat))


@pytest.mark.django_db
def test_live_dispatchers_split_the_providers_concurrency(settings):
    from django.core.cache import cache

    from campaigns.engine.dispatch import Dispatcher
    from campaigns.services import _dispatch_key, dispatch_peers

    settings.RCS_DISPATCHERS = 3
    campaign = started(1)
    provider = campaign.provider
    provider.concurrency = 10
    assert dispatch_peers(provider.pk, 0) == 0
    cache.set(_dispatch_key(provider.pk, 1), {"token": "t1", "beat": time.time()})
    cache.set(_dispatch_key(provider.pk, 2), {"token": "t2", "beat": time.time() - 60})  # died
    assert dispatch_peers(provider.pk, 0) == 1 and dispatch_peers(provider.pk, 1) == 0

    dispatcher = Dispatcher(provider, budget=1, peers=lambda: dispatch_peers(provider.pk, 0))
    dispatcher.refresh()
    assert (dispatcher.max_in_flight, dispatcher.share) == (10, 5)
    cache.delete_many([_dispatch_key(provider.pk, 1), _dispatch_key(provider.pk, 2)])
    dispatcher.refresh()  # alone again: the whole concurrency
    assert dispatcher.share == 10


@pytest.mark.django_db
def test_an_idle_dispatcher_waits_for_leases_only_when_no_other_dispatcher_is_alive():
    from campaigns.engine.dispatch import Dispatcher

    campaign = started(3)
    claim(provider_id=campaign.provider_id, limit=3, lease_seconds=30)  # held by "another worker"
    provider = campaign.provider

    alone = Dispatcher(provider, budget=60, peers=lambda: 0)
    alone.campaigns.status = {campaign.pk: Campaign.Status.SENDING}
    # Its holder may have died: poll (at most a second at a time) until the lease runs out.
    assert alone.idle_wait(deadline=time.monotonic() + 60) == 1.0

    beside = Dispatcher(provider, budget=60, peers=lambda: 1)
    beside.campaigns.status = {campaign.pk: Campaign.Status.SENDING}
    # A live dispatcher holds them and finishes them: nothing for this one to wait for.
    assert beside.idle_wait(deadline=time.monotonic() + 60) is None

    Message.objects.filter(campaign=campaign).update(
        status=MessageStatus.QUEUED, next_attempt_at=timezone.now() + timedelta(seconds=0.5)
    )
    wait = beside.idle_wait(deadline=time.monotonic() + 60)  # a retry due soon is waited for
    assert wait is not None and 0 < wait <= 0.5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_results_outside_a_transaction_take_two_round_trips_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the engine's writer thread path is PostgreSQL's")
    campaign = started(3)
    a, b, c = sorted(claim(provider_id=campaign.provider_id, limit=3, lease_seconds=30).ids)
    with CaptureQueriesContext(connection) as queries:
        sent = write_results(
            [
                Result(a, DONE_SENT, vendor_id="v-1"),
                Result(b, DONE_FAILED, error_code="2002", error_message="invalid phone"),
                Result(c, DONE_RETRY, error_code="500", error_message="server error"),
            ]
        )
    sqls = _writes(queries)
    assert len(sqls) == 2, sqls  # BEGIN + lock, then every write + COMMIT
    assert sqls[0].startswith("BEGIN;") and sqls[1].endswith("COMMIT")
    assert not connection.in_atomic_block
    ma, mb, mc = (Message.objects.get(pk=i) for i in (a, b, c))
    assert sent == [ma.msg_id]
    assert (ma.status, ma.vendor_id, ma.lease_until) == (MessageStatus.SENT, "v-1", None)
    assert (mb.status, mb.error_code, mb.lease_until) == (MessageStatus.FAILED, "2002", None)
    assert (mc.status, mc.lease_until) == (MessageStatus.QUEUED, None)
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.failed_count, campaign.processed_count) == (1, 1, 2)
    bucket = StatBucket.objects.get(campaign=campaign)
    assert (bucket.sent, bucket.failed) == (1, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_that_fails_to_write_stores_nothing_and_leaves_the_connection_usable(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the engine's writer thread path is PostgreSQL's")
    from django.db import DatabaseError

    campaign = started(2)
    ids = claim(provider_id=campaign.provider_id, limit=2, lease_seconds=30).ids
    monkeypatch.setattr(
        "campaigns.storage.postgresql.counter_updates",
        lambda counters, **kw: [("UPDATE no_such_table SET x = 1", [])],
    )
    with pytest.raises(DatabaseError):
        write_results([Result(i, DONE_SENT) for i in ids])
    # Rolled back: the messages are still leased (claimed again after the lease), nothing counted.
    assert set(Message.objects.filter(id__in=ids).values_list("status", flat=True)) == {MessageStatus.SENDING}
    assert Campaign.objects.get(pk=campaign.pk).processed_count == 0
    monkeypatch.undo()
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)
    write_results([Result(i, DONE_SENT) for i in ids])  # the same connection writes the next batch
    assert Campaign.objects.get(pk=campaign.pk).sent_count == 2


def _outcome(campaign: Campaign) -> dict:
    """What a batch of results left behind: messages (by position), counters, stat buckets."""
    campaign.refresh_from_db()
    fields = ("status", "vendor_id", "lease_until", "attempts", "error_code", "error_message")
    return {
        "messages": [
            (*(getattr(m, f) for f in fields), m.sent_at is not None, m.failed_at is not None)
            for m in Message.objects.filter(campaign=campaign).order_by("id")
        ],
        "counters": (campaign.sent_count, campaign.failed_count, campaign.processed_count),
        "buckets": list(StatBucket.objects.filter(campaign=campaign).values_list("sent", "failed")),
        "errors": list(ErrorBucket.objects.filter(campaign=campaign).values_list("code", "count")),
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_results_for_messages_unchanged_since_their_claim_take_one_statement_with_the_same_outcome():
    if connection.vendor != "postgresql":
        pytest.skip("the engine's writer thread path is PostgreSQL's")

    def batch(campaign: Campaign, *, with_rows: bool) -> list[Result]:
        got = claim(provider_id=campaign.provider_id, limit=3, lease_seconds=30)
        a, b, c = sorted(got.messages, key=lambda m: m.id)
        rows = dict.fromkeys("abc") if not with_rows else {"a": a, "b": b, "c": c}
        return [
            Result(a.id, DONE_SENT, vendor_id="v-1", row=rows["a"]),
            Result(b.id, DONE_FAILED, error_code="2002", error_message="invalid phone", row=rows["b"]),
            Result(c.id, DONE_RETRY, error_code="500", error_message="server error", row=rows["c"]),
        ]

    fast, loaded = started(3), started(3)
    fast_results, loaded_results = batch(fast, with_rows=True), batch(loaded, with_rows=False)
    with CaptureQueriesContext(connection) as queries:
        sent = write_results(fast_results)
    assert len(_writes(queries)) == 1, _writes(queries)
    assert sent == list(Message.objects.filter(campaign=fast, status="sent").values_list("msg_id", flat=True))
    with CaptureQueriesContext(connection) as queries:
        write_results(loaded_results)  # loads and locks the rows first
    assert len(_writes(queries)) == 2
    assert _outcome(fast) == _outcome(loaded)
    assert _outcome(fast)["counters"] == (1, 1, 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_with_a_message_changed_since_its_claim_is_written_from_the_rows_as_they_are_now():
    if connection.vendor != "postgresql":
        pytest.skip("the engine's writer thread path is PostgreSQL's")
    campaign = started(2)
    a, b = sorted(
        claim(provider_id=campaign.provider_id, limit=2, lease_seconds=30).messages, key=lambda m: m.id
    )
    # An early delivery report finished `a` after the claim (its row is a newer version now).
    deliver_early(a.id)
    with CaptureQueriesContext(connection) as queries:
        write_results([Result(a.id, DONE_SENT, row=a), Result(b.id, DONE_SENT, row=b)])
    # The one-statement write found `a` changed and wrote nothing (not even `b`); then both were
    # locked, loaded and written as the general path does.
    assert len(_writes(queries)) == 3
    assert Message.objects.get(pk=a.id).status == MessageStatus.DELIVERED
    assert Message.objects.get(pk=b.id).status == MessageStatus.SENT
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.processed_count) == (2, 2)  # each once


def _counters_and_buckets(campaign: Campaign) -> tuple:
    from campaigns.state import COUNTED

    campaign.refresh_from_db()
    counters = {name: getattr(campaign, f"{name}_count") for name in COUNTED}
    buckets = sorted(
        StatBucket.objects.filter(campaign=campaign).values_list(
            "hour", "sent", "delivered_rcs", "delivered_sms", "read", "clicked", "replied", "failed"
        )
    )
    errors = sorted(ErrorBucket.objects.filter(campaign=campaign).values_list("hour", "code", "count"))
    return counters, buckets, errors


@pytest.mark.django_db
def test_a_message_a_callback_finished_while_its_result_was_lost_still_counts_and_the_campaign_completes():
    """The issue's `waiting: 510` on a completed campaign: a worker died (or its batch failed) after
    the sends, their callbacks finished the messages, and nobody counted them processed."""
    from campaigns import stats
    from campaigns.services import campaign_complete_if_done

    campaign = started(4)
    got = claim(provider_id=campaign.provider_id, limit=4, lease_seconds=30)
    a, b, c, d = sorted(got.ids)
    write_results([Result(a, DONE_SENT), Result(b, DONE_FAILED, error_code="2002", error_message="bad")])
    write_results([Result(c, DONE_RETRY, error_code="500", error_message="server error")])
    deliver_early(c)  # the retried send did get through: its report finishes the queued message
    deliver_early(d)  # d's result is never written (its worker was killed): its report finishes it
    assert campaign_complete_if_done(campaign_id=campaign.pk)
    before = _counters_and_buckets(campaign)
    counters = before[0]
    assert counters["processed"] == 4 and campaign.queued_count == 0
    assert (counters["sent"], counters["delivered_rcs"], counters["failed"]) == (3, 2, 1)
    stats.rebuild(campaign_id=campaign.pk)
    assert _counters_and_buckets(campaign) == before  # the counters equal a recount from the messages


@pytest.mark.django_db
def test_rebuild_repairs_campaign_counters_from_the_messages():
    from campaigns import stats

    campaign = started(3)
    ids = claim(provider_id=campaign.provider_id, limit=3, lease_seconds=30).ids
    write_results([Result(i, DONE_SENT) for i in ids])
    expected = _counters_and_buckets(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(processed_count=1, sent_count=7)
    stats.rebuild(campaign_id=campaign.pk)
    assert _counters_and_buckets(campaign) == expected
