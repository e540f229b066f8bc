"""Crash safety and global limits with real task-cluster processes (PostgreSQL only).

The clusters are `manage.py qcluster` subprocesses on the test database; the vendor is the
session simulator on loopback. SQLite is skipped: it serialises writers, so these properties are
about PostgreSQL row locking and several processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager, suppress

import pytest
from django.conf import settings
from django.db import connection

from campaigns.engine.limiter import get_limiter
from campaigns.models import Campaign, Contact, Message, MessageStatus

from .conftest import make_audience, make_campaign, make_provider

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: several task-cluster processes and row locking (the suite runs on both)"
        )


@pytest.fixture
def sim(simulator):
    simulator.configure(callbacks=False)
    return simulator


def cluster_env(**extra: str) -> dict[str, str]:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": "",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
        "OUTBOUND_CONNECT_TIMEOUT": "1",
        "OUTBOUND_READ_TIMEOUT": "2",
        "Q_WORKERS": "2",
        "RCS_DISPATCHERS": "2",  # as these tests were written: two dispatch slots, whatever the default
        "Q_SYNC": "false",
        "RCS_LEASE_SECONDS": "3",
        "RCS_RETRY_BASE_SECONDS": "0.05",
        "RCS_RETRY_MAX_SECONDS": "0.5",
        "LOG_LEVEL": os.environ.get("RCS_TEST_CLUSTER_LOG_LEVEL", "WARNING"),
    }
    env.update(extra)
    return env


def start_cluster(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ["RCS_TEST_CLUSTER_LOG"], "a")
        if os.environ.get("RCS_TEST_CLUSTER_LOG")
        else None,  # noqa: SIM115
    )


def kill(proc: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextmanager
def clusters(n: int, env: dict[str, str]):
    procs = [start_cluster(env) for _ in range(n)]
    try:
        yield procs
    finally:
        for proc in procs:
            kill(proc)


def wait_for(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    from django.db.models import Count

    counts = dict(Message.objects.values_list("status").annotate(Count("id")))
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; messages: {counts}")


def fanned_out_campaign(provider, size: int) -> Campaign:
    """A sending campaign with its messages; the clusters' start-up tick starts dispatch."""
    from campaigns import services

    audience = make_audience(0)
    Contact.objects.bulk_create(
        [Contact(audience=audience, phone=f"+9197{i:08d}", attributes={"name": "x"}) for i in range(size)],
        batch_size=5000,
    )
    campaign = make_campaign(provider=provider, audience=audience)
    original, services.provider_kick = services.provider_kick, lambda **kw: 0
    try:
        campaign = services.campaign_start(campaign_id=campaign.pk)
    finally:
        services.provider_kick = original
    return campaign


def status_of(campaign: Campaign) -> str:
    return Campaign.objects.values_list("status", flat=True).get(pk=campaign.pk)


def test_kill_9_part_way_then_restart_sends_everything_once(sim):
    concurrency, size = 20, 20_000
    sim.configure(latency_ms=2)
    provider = make_provider(url=f"{sim.url}/generic/messages", concurrency=concurrency, max_rate=4600)
    get_limiter().reset(provider.pk)
    campaign = fanned_out_campaign(provider, size)
    env = cluster_env()

    first = start_cluster(env)
    try:
        wait_for(
            lambda: sim.stats(provider.sender_id)["accepted"] >= size // 3, timeout=120, what="a third sent"
        )
    finally:
        kill(first)  # kill -9 of the whole cluster (master, pusher, workers, monitor)
    at_kill = sim.stats(provider.sender_id)
    assert at_kill["unique_msg_ids"] < size, "the cluster finished before it could be killed"
    time.sleep(5)  # the dead cluster's heartbeats go stale and its leases run out

    with clusters(1, env):
        wait_for(lambda: status_of(campaign) == Campaign.Status.COMPLETED, timeout=400, what="completion")

    stats = sim.stats(provider.sender_id)
    assert Message.objects.filter(campaign=campaign, status=MessageStatus.SENT).count() == size
    assert stats["unique_msg_ids"] == size
    # Only requests in flight at the kill can repeat, and always with the same msgId.
    assert stats["duplicate_msg_ids"] <= concurrency
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.processed_count) == (size, size)


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_two_clusters_never_exceed_the_provider_concurrency(sim, backend):
    env = cluster_env(RCS_DISPATCHERS="4")
    if backend == "redis":
        import redis

        url = "redis://127.0.0.1:6379/4"
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        except redis.RedisError:
            pytest.skip("Redis not reachable at 127.0.0.1:6379")
        env["REDIS_URL"] = url
    sim.configure(latency_ms=20, jitter_ms=10)
    provider = make_provider(url=f"{sim.url}/generic/messages", concurrency=10, max_rate=4600)
    if backend == "redis":
        from campaigns.engine.limiter import RedisLimiter

        RedisLimiter(env["REDIS_URL"]).reset(provider.pk)
    campaign = fanned_out_campaign(provider, 1500)
    with clusters(2, env):
        wait_for(lambda: status_of(campaign) == Campaign.Status.COMPLETED, timeout=120, what="completion")
    stats = sim.stats(provider.sender_id)
    assert stats["unique_msg_ids"] == 1500
    assert 5 <= stats["max_in_flight"] <= 10
