"""Fan-out on PostgreSQL outside a transaction: chunks inserted over several connections at once."""

from __future__ import annotations

import threading

import pytest

from campaigns import services
from campaigns.models import Campaign, Message, MessageStatus
from campaigns.services import campaign_fan_out
from tests.postgresql import postgresql_only

from .conftest import make_audience, make_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

needs_postgres = postgresql_only("the fan-out uses several connections at once only on PostgreSQL")


@pytest.fixture
def kicks(monkeypatch) -> list[str]:
    """The threads that started sending (by name)."""
    seen = []
    monkeypatch.setattr(
        services, "provider_kick", lambda **kw: seen.append(threading.current_thread().name) or 0
    )
    return seen


@pytest.fixture
def inserts(monkeypatch) -> list[str]:
    """The threads that inserted chunks (by name)."""
    seen = []
    insert = services._FanOut.insert

    def recording(fan_out, lo):
        seen.append(threading.current_thread().name)
        return insert(fan_out, lo)

    monkeypatch.setattr(services._FanOut, "insert", recording)
    return seen


def _sending(size: int, unsubscribed: int = 0) -> Campaign:
    campaign = make_campaign(audience=make_audience(size, unsubscribed=unsubscribed))
    sending = {"status": Campaign.Status.SENDING, "msg_prefix": f"t{campaign.pk}"}
    Campaign.objects.filter(pk=campaign.pk).update(**sending)
    campaign.refresh_from_db()
    return campaign


def test_chunks_go_over_two_connections_and_every_recipient_gets_one_message(kicks, inserts):
    campaign = _sending(23, unsubscribed=3)

    assert campaign_fan_out(campaign=campaign, chunk=4) == 20

    contacts = campaign.audience.contacts.filter(subscribed=True)
    expected = {f"t{campaign.pk}-{c.id}": c.phone for c in contacts}
    messages = Message.objects.filter(campaign=campaign)
    assert dict(messages.values_list("msg_id", "to")) == expected
    assert set(messages.values_list("status", flat=True)) == {MessageStatus.QUEUED}
    campaign.refresh_from_db()
    assert campaign.total_count == 20 and campaign.fanned_out_at is not None
    assert len(inserts) == 6  # ceil(23 / 4) chunks, each once
    assert {name.rsplit("-", 1)[0] for name in inserts} == {f"fan-out-{campaign.pk}"}
    assert kicks == [threading.current_thread().name]  # sending started once, by the caller

    # A second run (a crash part-way, then a retry) adds nothing and counts nothing twice.
    assert campaign_fan_out(campaign=campaign, chunk=4) == 0
    campaign.refresh_from_db()
    assert campaign.total_count == 20 and messages.count() == 20


def test_a_failed_chunk_is_raised_and_a_retry_completes_the_fan_out(kicks, monkeypatch):
    campaign = _sending(30)
    insert = services._FanOut.insert

    def fails_once(fan_out, lo):
        if lo == campaign.audience.contacts.order_by("id").first().id + 8 and not failed:
            failed.append(lo)
            raise RuntimeError("the database went away")
        return insert(fan_out, lo)

    failed: list[int] = []
    monkeypatch.setattr(services._FanOut, "insert", fails_once)
    with pytest.raises(RuntimeError, match="went away"):
        campaign_fan_out(campaign=campaign, chunk=4)
    campaign.refresh_from_db()
    assert Message.objects.filter(campaign=campaign).count() == campaign.total_count < 30
    assert not [t for t in threading.enumerate() if t.name.startswith("fan-out-")]

    assert campaign_fan_out(campaign=campaign, chunk=4) == 30 - campaign.total_count
    campaign.refresh_from_db()
    assert campaign.total_count == 30 == Message.objects.filter(campaign=campaign).count()
