"""The quick start's demo campaign, end to end against the vendor simulator: every message is accepted."""

from __future__ import annotations

import io

import pytest

from campaigns import demo
from campaigns.models import Campaign, Message, MessageStatus
from campaigns.services import dispatch_run
from providers.models import Provider
from rcsconnect.demo import demo_simulator_knobs, load_demo_records

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_campaign_is_accepted_by_the_simulator(simulator, sync_tasks, settings, monkeypatch):
    settings.RCS_DISPATCH_BUDGET_SECONDS = 60
    simulator.configure(callbacks=False, **demo_simulator_knobs())
    # The quick start slows the demo provider to DEMO_RATE for a visible progress bar; not here.
    monkeypatch.setattr(demo, "DEMO_RATE", 1000)
    # The launch would dispatch inline, inside the fan-out's transaction; dispatch afterwards instead,
    # as a task-cluster worker does.
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)
    load_demo_records(simulator_url=simulator.url, stdout=io.StringIO())
    provider = Provider.objects.get(nickname=demo.DEMO_PROVIDER)
    dispatch_run(provider_id=provider.pk)

    campaign = Campaign.objects.get(name=demo.DEMO_CAMPAIGN)
    assert campaign.status == Campaign.Status.COMPLETED
    statuses = dict(Message.objects.filter(campaign=campaign).values_list("msg_id", "status"))
    assert set(statuses.values()) == {MessageStatus.SENT}, Message.objects.exclude(
        status=MessageStatus.SENT
    ).values_list("error_message", flat=True)[:3]
    assert campaign.sent_count == campaign.total_count == len(statuses)
    seen = simulator.stats(provider.sender_id)
    assert seen["unique_msg_ids"] == len(statuses)
