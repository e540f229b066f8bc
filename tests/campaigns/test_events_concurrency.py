"""Concurrent callbacks for the same messages (PostgreSQL row locks): counters stay exact."""

from __future__ import annotations

import json
import random
import threading

import pytest
from django.db import connections

from campaigns.events import apply_pending_for
from campaigns.models import Campaign, Message
from campaigns.state import FUNNEL, funnel
from providers.callbacks import callback_receive
from providers.models import ProviderEvent
from tests.api.factories import make_campaign, make_message
from tests.postgresql import postgresql_only

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("sync_tasks"),
]


needs_postgres = postgresql_only("row locking (FOR UPDATE / SKIP LOCKED) is only meaningful on PostgreSQL")


@pytest.fixture(autouse=True)
def no_applier_mark():
    """No applier mark left by an earlier test: the database cache table is not emptied between
    transactional tests, and a live-server test whose callback queued the applier (no cluster runs it)
    leaves the mark for RCS_EVENTS_APPLIER_TTL; every kick here would then find it held."""
    from django.core.cache import cache

    cache.delete("rcs:events-applier")


def test_parallel_callbacks_and_pending_sweeps_count_every_change_once(double_provider):
    campaign = make_campaign(double_provider)
    ids = [f"c-{i}" for i in range(12)]
    for i, msg_id in enumerate(ids):
        make_message(double_provider, campaign, msg_id=msg_id, sms_fallback=i % 2 == 0)
    events = []
    for i, msg_id in enumerate(ids):
        events += [{"msgId": msg_id, "status": "sent"}, {"msgId": msg_id, "status": "delivered"}]
        events += [{"msgId": msg_id, "status": "read"}, {"msgId": msg_id, "status": "clicked", "ts": 5}]
        if i % 2 == 0:
            events += [
                {"msgId": msg_id, "status": "failed"},
                {"msgId": msg_id, "channel": "SMS", "status": "delivered"},
            ]
    stream = events * 3
    random.Random(3).shuffle(stream)
    bodies = [json.dumps({"events": stream[i : i + 3]}).encode() for i in range(0, len(stream), 3)]
    errors: list[BaseException] = []

    def worker(chunk: list[bytes]) -> None:
        try:
            for body in chunk:
                assert callback_receive(provider=double_provider, body=body).http_status == 200
                apply_pending_for(ids[:3])  # the engine's sweep racing the callbacks
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(bodies[n::6],)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    campaign.refresh_from_db()
    expected = dict.fromkeys(FUNNEL, 0)
    for message in Message.objects.filter(campaign=campaign):
        assert message.status == "read" and message.clicked_at
        for name, on in funnel(message).items():
            expected[name] += on
    assert {name: getattr(campaign, f"{name}_count") for name in FUNNEL} == expected
    assert expected["clicked"] == 12 and expected["sent"] == 12
    assert not ProviderEvent.objects.filter(applied=False).exists()
    assert Campaign.objects.get().read_count == 12
