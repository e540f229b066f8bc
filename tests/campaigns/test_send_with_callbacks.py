"""Sending and callbacks at the same time (issue 16), with real task-cluster processes (PostgreSQL).

Two `manage.py qcluster` processes (one dispatcher each) send a campaign to the vendor simulator,
which posts `sent`, `delivered` and `read` for every message to this test's live server while the
campaign sends; the clusters' workers apply them. The result writer and the event applier write the
same message, campaign and stat-bucket rows at once: no deadlock, exact counters, about the time of
the same campaign without callbacks.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

from campaigns import stats
from campaigns.engine.limiter import get_limiter
from campaigns.models import Campaign, ErrorBucket, Message, StatBucket
from campaigns.state import COUNTED
from providers.models import ProviderEvent
from tests.postgresql import postgresql_only

from .conftest import make_provider
from .test_reliability import (
    cluster_env,
    clusters,
    fanned_out_campaign,
    kill,
    start_cluster,
    status_of,
    wait_for,
)

needs_postgres = postgresql_only(
    "several task-cluster processes, a live server and row locking need PostgreSQL"
)
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]

SIZE, CONCURRENCY, RATE, LEASE = 2000, 50, 200, 10
# Every number RCS-capable and every message read: sent, delivered and read per message. Batched
# POSTs (as vendors do under load) keep the live server, a single test process, from being the bottleneck.
CALLBACKS = {
    "callbacks": True,
    "non_rcs_suffix": "",
    "read_share": 1.0,
    "callback_delay_ms": 20,
    "callback_batch": 25,
    "callback_batch_window_ms": 50,
}


@pytest.fixture
def live(live_server, settings, simulator):
    """The live server takes the callbacks; its request threads close their connections after
    each request, and callbacks still in flight land before the database is flushed."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.RCS_EVENTS_APPLIER_TTL = 10  # a killed applier's mark runs out soon (the kill -9 test)
    max_age = connection.settings_dict.get("CONN_MAX_AGE", 0)
    connection.settings_dict["CONN_MAX_AGE"] = 0
    yield live_server
    simulator.configure(callbacks=False)
    time.sleep(1)
    connection.settings_dict["CONN_MAX_AGE"] = max_age


def env_for(live_server, log_path) -> dict[str, str]:
    env = cluster_env(
        RCS_DISPATCHERS="2",  # two dispatchers in all: one per cluster; the other workers apply events
        RCS_PUBLIC_BASE_URL=live_server.url,
        RCS_EVENTS_APPLIER_TTL="10",
        RCS_EVENTS_APPLIER_BUDGET="5",
        OUTBOUND_READ_TIMEOUT="5",
        # Longer than a send plus its result write takes on a loaded machine (the reliability tests'
        # 3 s lets a slow batch's lease run out, and its messages be sent again by the other cluster).
        RCS_LEASE_SECONDS=str(LEASE),
        RCS_TEST_CLUSTER_LOG=str(log_path),
    )
    env["LOG_LEVEL"] = "WARNING"
    return env


def deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def counters(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {name: getattr(campaign, f"{name}_count") for name in COUNTED}


def stored(campaign: Campaign) -> tuple:
    """Counters, stat and error buckets: what `rebuild_stats` recomputes from the messages."""
    buckets = StatBucket.objects.filter(campaign=campaign).order_by("hour")
    errors = ErrorBucket.objects.filter(campaign=campaign).order_by("hour", "code")
    return (
        counters(campaign),
        list(buckets.values_list("hour", "sent", "delivered_rcs", "delivered_sms", "read", "failed")),
        list(errors.values_list("hour", "code", "count")),
    )


def all_applied(campaign: Campaign) -> bool:
    return counters(campaign)["read"] == SIZE and not ProviderEvent.objects.filter(applied=False).exists()


def send_campaign(
    simulator, live_server, tmp_path, monkeypatch, *, with_callbacks: bool, kill_part_way: bool = False
):
    simulator.configure(latency_ms=20, **(CALLBACKS if with_callbacks else {"callbacks": False}))
    provider = make_provider(url=f"{simulator.url}/generic/messages", concurrency=CONCURRENCY, max_rate=RATE)
    get_limiter().reset(provider.pk)
    campaign = fanned_out_campaign(provider, SIZE)
    log = tmp_path / f"cluster-{provider.pk}.log"
    env = env_for(live_server, log)
    monkeypatch.setenv("RCS_TEST_CLUSTER_LOG", str(log))  # the clusters' stderr
    started = time.monotonic()
    if kill_part_way:
        first = [start_cluster(env), start_cluster(env)]
        try:
            wait_for(
                lambda: simulator.stats(provider.sender_id)["accepted"] >= SIZE // 3,
                timeout=120,
                what="a third",
            )
        finally:
            for proc in first:
                kill(proc)  # kill -9 of both clusters (master, workers, monitor), dispatchers and appliers
        assert simulator.stats(provider.sender_id)["unique_msg_ids"] < SIZE, "finished before the kill"
        time.sleep(LEASE + 1)  # the dead dispatchers' heartbeats go stale and their leases run out
    with clusters(2, env):
        wait_for(lambda: status_of(campaign) == Campaign.Status.COMPLETED, timeout=300, what="completion")
        elapsed = time.monotonic() - started
        if with_callbacks:
            wait_for(lambda: all_applied(campaign), timeout=120, what="every callback applied")
    return provider, campaign, elapsed, log.read_text() if log.exists() else ""


def check_exact(campaign: Campaign) -> None:
    before = stored(campaign)
    assert before[0] == {
        **dict.fromkeys(COUNTED, 0),
        "sent": SIZE,
        "delivered_rcs": SIZE,
        "read": SIZE,
        "processed": SIZE,
    }
    assert campaign.queued_count == 0  # the funnel's `waiting`
    assert stats.campaign_funnel(campaign).waiting == 0
    stats.rebuild(campaign_id=campaign.pk)
    assert stored(campaign) == before, "the counters and buckets differ from a recount of the messages"
    # What the simulator posted (sent, delivered, read for every accepted send) is what was stored.
    events = ProviderEvent.objects.filter(
        msg_id__in=Message.objects.filter(campaign=campaign).values("msg_id")
    )
    assert events.values("msg_id", "status").distinct().count() == 3 * SIZE
    assert sorted(events.order_by().values_list("status", flat=True).distinct()) == [
        "delivered",
        "read",
        "sent",
    ]


def test_a_campaign_with_callbacks_sends_in_about_the_time_without_no_deadlock_exact_counters(
    simulator, live, tmp_path, monkeypatch
):
    _, _, without, _ = send_campaign(simulator, live, tmp_path, monkeypatch, with_callbacks=False)
    deadlocks_before = deadlocks()
    provider, campaign, elapsed, log = send_campaign(
        simulator, live, tmp_path, monkeypatch, with_callbacks=True
    )
    print(f"\n{SIZE} messages: {without:.1f} s without callbacks, {elapsed:.1f} s with")
    sim = simulator.stats()
    assert sim["callbacks"]["failed"] == 0 and sim["callbacks"]["rejected"] == 0
    assert simulator.stats(provider.sender_id)["duplicate_msg_ids"] == 0
    assert "deadlock" not in log.lower(), log[-3000:]
    assert "Failed 'campaigns" not in log, log[-3000:]  # no task failed
    time.sleep(1)  # the statistics collector's counters are flushed within a second
    assert deadlocks() == deadlocks_before
    check_exact(campaign)
    assert elapsed < 3 * without + 10, (elapsed, without)  # generous: a loaded 2-core machine


def test_kill_9_of_both_clusters_part_way_with_callbacks_ends_exact(simulator, live, tmp_path, monkeypatch):
    deadlocks_before = deadlocks()
    provider, campaign, _, log = send_campaign(
        simulator, live, tmp_path, monkeypatch, with_callbacks=True, kill_part_way=True
    )
    sim = simulator.stats(provider.sender_id)
    assert sim["unique_msg_ids"] == SIZE
    # Only sends in flight at the kill repeat (at most the provider's concurrency), with the same msgId.
    assert sim["duplicate_msg_ids"] <= CONCURRENCY
    assert "deadlock" not in log.lower(), log[-3000:]
    time.sleep(1)
    assert deadlocks() == deadlocks_before
    check_exact(campaign)
