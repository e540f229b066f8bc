"""A campaign whose audience is a segment sends to exactly the segment's subscribed contacts (the
vendor simulator receives them, and nobody else)."""

from __future__ import annotations

import pytest

from campaigns import segments
from campaigns.models import Campaign, Contact, Segment
from campaigns.services import campaign_launch, dispatch_run

from .conftest import make_audience, make_campaign, make_provider

pytestmark = pytest.mark.django_db(transaction=True)


def test_segment_campaign_sends_to_the_segment_only(simulator, sync_tasks, settings, monkeypatch):
    settings.RCS_DISPATCH_BUDGET_SECONDS = 60
    simulator.configure(callbacks=False)
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)  # dispatched below
    audience = make_audience(40, unsubscribed=4)
    for contact in Contact.objects.filter(audience=audience):
        n = int(contact.phone[-2:])
        contact.attributes = {**contact.attributes, "tier": "gold" if n % 3 == 0 else "silver"}
        contact.save()
    rules = segments.clean_rules([{"kind": "attribute", "name": "tier", "op": "equals", "value": "gold"}])
    segment = Segment.objects.create(name="gold", audience=audience, rules=rules)
    provider = make_provider(url=f"{simulator.url}/generic/messages", max_rate=1000)
    campaign = make_campaign(provider=provider, audience=audience, segment=segment)

    campaign_launch(campaign_id=campaign.pk)
    dispatch_run(provider_id=provider.pk)

    expected = {c.phone for c in segments.contacts(segment) if c.subscribed}
    received = {r["json"]["to"] for r in simulator.requests(limit=500) if r["path"] == "/generic/messages"}
    assert expected and received == expected
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.sent_count == campaign.total_count == len(expected)
