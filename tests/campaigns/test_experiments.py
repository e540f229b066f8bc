"""A/B variants and the holdout (campaigns.experiments): assignment is a deterministic hash of
(campaign, contact), the same in Python and in the fan-out's SQL, and follows the split; the holdout
is written but never sent; the campaign completes with processed == total."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from django.db import connection

from campaigns import experiments
from campaigns.models import Campaign, Message, MessageStatus, Variant
from campaigns.services import campaign_launch, dispatch_run

from .conftest import make_audience, make_campaign, make_provider, make_template

N = 100_000


def _plan(holdout: int = 10, splits=(("A", 50), ("B", 30), ("C", 20)), test: int = 0, pk: int = 4242):
    campaign = Campaign(pk=pk, holdout_percent=holdout, test_percent=test)
    return experiments.plan(campaign, [Variant(label=label, split=split) for label, split in splits])


def _within(count: int, n: int, share: float) -> bool:
    """Within 5 standard deviations of the binomial expectation (a false alarm: ~1 in 3.5 million)."""
    sigma = math.sqrt(n * share * (1 - share))
    return abs(count - n * share) <= 5 * sigma


def test_assignment_is_stable_and_follows_the_split_on_100000_contacts():
    plan = _plan()
    first = [plan.assign(contact_id) for contact_id in range(1, N + 1)]
    again = [_plan().assign(contact_id) for contact_id in range(1, N + 1)]
    assert first == again
    counts = Counter(first)
    assert set(counts) == {"holdout", "A", "B", "C"}
    assert _within(counts["holdout"], N, 0.10), counts
    for label, share in (("A", 0.45), ("B", 0.27), ("C", 0.18)):
        assert _within(counts[label], N, share), (label, counts)
    # Another campaign shuffles the contacts anew (independent of the first assignment).
    other = _plan(pk=4243)
    same = sum((plan.assign(c) == "A") == (other.assign(c) == "A") for c in range(1, N + 1))
    assert _within(same, N, 0.45 * 0.45 + 0.55 * 0.55)


@pytest.mark.django_db
def test_the_sql_assignment_equals_the_python_one_on_100000_contacts():
    plan = _plan()
    ids = "WITH RECURSIVE ids(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM ids WHERE id < %s) "
    sql = f"{ids}SELECT id, {plan.case_sql(contact_column='ids.id')} FROM ids ORDER BY id"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [N])
        rows = cursor.fetchall()
    assert len(rows) == N
    assert [label for _, label in rows] == [plan.assign(contact_id) for contact_id, _ in rows]


def test_test_then_winner_ranges():
    plan = _plan(holdout=10, splits=(("A", 50), ("B", 50)), test=20)
    counts = Counter(plan.assign(c) for c in range(1, N + 1))
    assert _within(counts["holdout"], N, 0.10)
    assert _within(counts["A"], N, 0.09) and _within(counts["B"], N, 0.09)
    assert _within(counts[None], N, 0.72)  # the rest: written when the winner is picked
    winner = experiments.Plan(plan.campaign_id, plan.holdout_end, plan.ranges, plan.test_end, winner="B")
    for c in range(1, 5000):
        first, rest = winner.assign(c), winner.assign(c, experiments.REST)
        assert (first is None) == (rest == "B") or first == rest == "holdout"


def ab_campaign(simulator, size: int = 300, **kw) -> Campaign:
    provider = make_provider(url=f"{simulator.url}/generic/messages", max_rate=1000)
    audience = make_audience(size)
    campaign = make_campaign(provider=provider, audience=audience, holdout_percent=20, **kw)
    for label, text, split in (("A", "Alpha {{1}}", 50), ("B", "Bravo {{1}}", 50)):
        template = make_template(provider, text=text)
        Variant.objects.create(
            campaign=campaign,
            label=label,
            template=template,
            placeholder_mapping=[{"source": "attribute", "value": "name"}],
            split=split,
        )
    return campaign


def received(simulator) -> dict[str, str]:
    return {
        r["json"]["to"]: str(r["json"])
        for r in simulator.requests(limit=2000)
        if r["path"] == "/generic/messages"
    }


@pytest.mark.django_db(transaction=True)
def test_holdout_receives_nothing_and_each_variant_gets_its_template(
    simulator, sync_tasks, settings, monkeypatch
):
    settings.RCS_DISPATCH_BUDGET_SECONDS = 60
    simulator.configure(callbacks=False)
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)  # dispatched below
    campaign = ab_campaign(simulator)

    campaign_launch(campaign_id=campaign.pk)
    dispatch_run(provider_id=campaign.provider_id)

    plan = experiments.plan(campaign)
    messages = list(Message.objects.filter(campaign=campaign))
    assert len(messages) == 300
    for message in messages:
        assert message.variant == plan.assign(message.contact_id)
    holdout = {m.to for m in messages if m.variant == "holdout"}
    assert holdout and all(m.status == MessageStatus.HOLDOUT for m in messages if m.to in holdout)
    got = received(simulator)
    assert not holdout & set(got)
    assert set(got) == {m.to for m in messages} - holdout
    for message in messages:
        if message.variant in ("A", "B"):
            word = "Alpha" if message.variant == "A" else "Bravo"
            assert word in got[message.to]
            assert message.status == MessageStatus.SENT and message.sent_at is not None
        else:
            assert message.sent_at is None and message.attempts == 0
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.holdout_count == len(holdout)
    assert campaign.processed_count == campaign.total_count == campaign.sent_count == 300 - len(holdout)


@pytest.mark.django_db
def test_a_segment_campaign_with_variants_fans_out_to_its_segment_only():
    from django.utils import timezone

    from campaigns import segments
    from campaigns.models import Contact, Segment
    from campaigns.services import campaign_fan_out

    class Sim:
        url = "http://127.0.0.1:9"

    campaign = ab_campaign(Sim, size=120)
    for contact in Contact.objects.filter(audience=campaign.audience):
        contact.attributes = {**contact.attributes, "tier": "gold" if contact.pk % 2 else "silver"}
        contact.save()
    rules = segments.clean_rules([{"kind": "attribute", "name": "tier", "op": "equals", "value": "gold"}])
    segment = Segment.objects.create(name="gold", audience=campaign.audience, rules=rules)
    Campaign.objects.filter(pk=campaign.pk).update(
        segment=segment, status=Campaign.Status.SENDING, msg_prefix="seg", started_at=timezone.now()
    )
    campaign.refresh_from_db()
    campaign_fan_out(campaign=campaign)
    rows = list(Message.objects.filter(campaign=campaign))
    assert {m.contact_id for m in rows} == {c.pk for c in segments.contacts(segment) if c.subscribed}
    plan = experiments.plan(campaign)
    assert all(m.variant == plan.assign(m.contact_id) for m in rows)
    campaign.refresh_from_db()
    assert campaign.holdout_count + campaign.total_count == len(rows) == 60
    assert campaign.holdout_count == sum(m.status == MessageStatus.HOLDOUT for m in rows) > 0


@pytest.mark.django_db
def test_the_claim_never_takes_holdout_rows_and_no_event_or_cancel_moves_them(monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from campaigns import state
    from campaigns.engine.claim import claim
    from campaigns.services import campaign_cancel, campaign_start

    class Sim:
        url = "http://127.0.0.1:9"

    campaign = ab_campaign(Sim, size=60)
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)  # claimed below
    campaign_start(campaign_id=campaign.pk)
    holdout = Message.objects.filter(campaign=campaign, status=MessageStatus.HOLDOUT)
    assert holdout.exists()
    holdout.update(next_attempt_at=timezone.now() - timedelta(hours=1))
    got = claim(provider_id=campaign.provider_id, limit=1000, lease_seconds=30)
    assert got.ids and not set(got.ids) & set(holdout.values_list("id", flat=True))
    row = holdout.first()
    assert not state.advance(row, channel="RCS", status="delivered", at=timezone.now())
    assert not state.send_outcome(row, outcome=state.OUTCOME_SENT, at=timezone.now())
    assert row.status == MessageStatus.HOLDOUT and state.tally(row)["processed"] is False
    campaign_cancel(campaign_id=campaign.pk)
    assert set(holdout.values_list("status", flat=True)) == {MessageStatus.HOLDOUT}
