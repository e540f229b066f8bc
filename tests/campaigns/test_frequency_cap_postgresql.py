"""The frequency cap holds with two campaigns sending at once and two task-cluster processes
(PostgreSQL only: the check and the record happen under a per-number advisory lock)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection

from campaigns import services
from campaigns.engine.limiter import get_limiter
from campaigns.models import Campaign, Contact, FrequencyRecord, Message, MessageStatus

from .conftest import make_audience, make_campaign, make_provider
from .test_reliability import cluster_env, clusters, status_of, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(600)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: two task-cluster processes and advisory locks (the suite runs on both)"
        )


def started(provider, numbers: list[str]) -> Campaign:
    audience = make_audience(0)
    Contact.objects.bulk_create(
        [Contact(audience=audience, phone=n, attributes={"name": "x"}) for n in numbers]
    )
    campaign = make_campaign(provider=provider, audience=audience)
    original, services.provider_kick = services.provider_kick, lambda **kw: 0
    try:
        return services.campaign_start(campaign_id=campaign.pk)
    finally:
        services.provider_kick = original


def test_a_cap_of_one_holds_across_two_concurrent_campaigns_and_two_dispatchers(simulator):
    simulator.configure(callbacks=False, latency_ms=5)
    size = 600
    numbers = [f"+9197{i:08d}" for i in range(size)]
    provider = make_provider(url=f"{simulator.url}/generic/messages", concurrency=20, max_rate=4600)
    get_limiter().reset(provider.pk)
    first, second = started(provider, numbers), started(provider, numbers)
    # Both campaigns' messages to one number fall due at the same moment, so the claims (in due
    # order) take them together: in one batch, or in the two processes' batches at once.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Message._meta.db_table} SET next_attempt_at = "  # noqa: S608
            "now() - interval '1 hour' + right(\"to\", 6)::int * interval '1 millisecond' "
            "WHERE campaign_id = ANY(%s)",
            [[first.pk, second.pk]],
        )
    env = cluster_env(RCS_FREQUENCY_CAP="1", RCS_FREQUENCY_PERIOD_HOURS="24", RCS_DISPATCHERS="2")
    with clusters(2, env):
        wait_for(
            lambda: {status_of(first), status_of(second)} == {Campaign.Status.COMPLETED},
            timeout=300,
            what="both campaigns completed",
        )
    sent = Message.objects.filter(campaign__in=[first, second], status=MessageStatus.SENT)
    per_number = Counter(sent.values_list("to", flat=True))
    assert set(per_number.values()) == {1}, "a number got more than one marketing message"
    assert len(per_number) == size
    skipped = Message.objects.filter(campaign__in=[first, second], status=MessageStatus.SKIPPED)
    assert skipped.count() == size
    assert set(skipped.values_list("error_code", flat=True)) == {"frequency_cap"}
    assert simulator.stats(provider.sender_id)["unique_msg_ids"] == size
    assert FrequencyRecord.objects.count() == size
    for campaign in (first, second):
        campaign.refresh_from_db()
        assert campaign.processed_count == campaign.total_count == size
        assert campaign.sent_count + campaign.skipped_count == size
