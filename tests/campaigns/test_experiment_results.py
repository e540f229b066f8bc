"""An A/B campaign's results: conversions carry the campaign and variant of the message they are
credited to (a holdout contact's give the lift), a repeated Idempotency-Key counts once; the
z-tests and lift come from campaigns.stats; "test, then send the winner" sends the winning variant
to the rest only; the postback and link-landing rules make conversions."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import conversions, experiments, stats
from campaigns.models import Campaign, Conversion, Message, MessageStatus
from campaigns.services import campaign_fan_out, campaign_launch, dispatch_run, engine_tick

from .test_experiments import ab_campaign, received


class _Sim:  # ab_campaign only needs the simulator's URL here: nothing is sent
    url = "http://127.0.0.1:9"


def fanned_out(**kw) -> Campaign:
    campaign = ab_campaign(_Sim, size=400, **kw)
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SENDING, msg_prefix=f"x{campaign.pk}", started_at=timezone.now()
    )
    campaign.refresh_from_db()
    campaign_fan_out(campaign=campaign)
    Message.objects.filter(campaign=campaign, status=MessageStatus.QUEUED).update(
        status=MessageStatus.SENT, sent_at=timezone.now() - timedelta(minutes=5)
    )
    return campaign


@pytest.mark.django_db
def test_conversions_carry_campaign_and_variant_and_a_repeated_key_counts_once(api):
    campaign = fanned_out()
    rows = {v: list(Message.objects.filter(campaign=campaign, variant=v)) for v in ("A", "B", "holdout")}
    assert all(rows.values())
    b, holdout = rows["B"][0], rows["holdout"][0]
    first = api({"phone": b.to, "event": "purchase", "value": "10"}, key="order-1")
    assert first.status_code == 201, first.json()
    again = api({"phone": b.to, "event": "purchase", "value": "10"}, key="order-1")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert (first.json()["campaign"], first.json()["variant"], first.json()["message"]) == (
        campaign.pk,
        "B",
        b.pk,
    )
    assert api({"phone": holdout.to, "event": "purchase"}).json()["variant"] == "holdout"
    assert Conversion.objects.filter(campaign=campaign).count() == 2

    results = stats.variant_results(campaign)
    by_label = {v.label: v for v in results.variants}
    assert by_label["B"].funnel.conversions == 1 and by_label["A"].funnel.conversions == 0
    assert str(by_label["B"].funnel.conversion_value) == "10.00"
    assert results.holdout.funnel.conversions == 1 and results.holdout.members == len(rows["holdout"])
    assert results.holdout.members + sum(v.members for v in results.variants) == 400
    base = 1 / len(rows["holdout"])
    assert results.lift["B"] == round((1 / len(rows["B"]) - base) / base, 4)
    assert results.lift["A"] == -1.0
    names = {(t.metric, t.first, t.second) for t in results.tests}
    assert ("ctr", "B", "A") in names and ("recipient_conversion_rate", "A", "holdout") in names
    assert all(t.name == "two-proportion z-test" for t in results.tests)


def test_two_proportion_z_test_numbers():
    test = stats.ZTest("ctr", "B", "A", 120, 1000, 90, 1000)
    # pooled p = 0.105; se = sqrt(0.105 * 0.895 * 0.002) = 0.013709; z = 0.03 / se
    assert test.z == pytest.approx(2.188, abs=0.001)
    assert test.p == pytest.approx(0.0287, abs=0.0002) and test.significant
    assert stats.ZTest("ctr", "B", "A", 0, 0, 1, 10).z is None


@pytest.mark.django_db(transaction=True)
def test_the_winner_step_sends_the_winning_variant_to_the_rest_only(
    simulator, sync_tasks, settings, monkeypatch
):
    settings.RCS_DISPATCH_BUDGET_SECONDS = 60
    simulator.configure(callbacks=False)
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)  # dispatched below
    campaign = ab_campaign(simulator, size=400, test_percent=25, winner_metric="ctr", winner_after_minutes=60)
    campaign_launch(campaign_id=campaign.pk)
    dispatch_run(provider_id=campaign.provider_id)

    campaign.refresh_from_db()
    tested = list(Message.objects.filter(campaign=campaign).exclude(variant="holdout"))
    assert tested and {m.variant for m in tested} == {"A", "B"}
    assert len(tested) < 400 * 0.5  # a quarter of the sendable contacts, in tolerance
    assert campaign.status == Campaign.Status.SENDING  # not complete: the rest is to come
    first_round = received(simulator)
    # B clicks better.
    b_ids = [m.pk for m in tested if m.variant == "B"]
    Message.objects.filter(pk__in=b_ids[: len(b_ids) // 2]).update(clicked_at=timezone.now())

    assert engine_tick(now=campaign.started_at + timedelta(minutes=30))["winners"] == 0  # too early
    assert engine_tick(now=campaign.started_at + timedelta(minutes=61))["winners"] == 1
    dispatch_run(provider_id=campaign.provider_id)

    campaign.refresh_from_db()
    assert campaign.winner_variant == "B" and campaign.winner_picked_at is not None
    plan = experiments.plan(campaign)
    messages = list(Message.objects.filter(campaign=campaign))
    assert len(messages) == 400
    rest = [m for m in messages if m.pk not in {t.pk for t in tested} and m.variant != "holdout"]
    assert rest and all(m.variant == "B" for m in rest)
    for m in messages:
        assert m.variant in (plan.assign(m.contact_id), plan.assign(m.contact_id, experiments.REST))
    requests = [r for r in simulator.requests(limit=2000) if r["path"] == "/generic/messages"]
    per_phone = Counter(r["json"]["to"] for r in requests)
    assert set(per_phone.values()) == {1}  # nobody got a second message
    second_round = {phone: body for phone, body in received(simulator).items() if phone not in first_round}
    assert set(second_round) == {m.to for m in rest}
    assert all("Bravo" in body for body in second_round.values())
    assert not {m.to for m in messages if m.variant == "holdout"} & set(per_phone)
    assert campaign.status == Campaign.Status.COMPLETED
    assert campaign.processed_count == campaign.total_count == 400 - campaign.holdout_count


@pytest.mark.django_db
def test_postback_and_link_landing_rules(settings):
    from campaigns.clicks import click_record
    from campaigns.models import ShortLink

    campaign = fanned_out()
    message = Message.objects.filter(campaign=campaign, variant="A").first()
    settings.RCS_CONVERSION_POSTBACK_PREFIX = ""
    assert conversions.postback_rule("convert:purchase:5") is None
    settings.RCS_CONVERSION_POSTBACK_PREFIX = "convert:"
    assert conversions.postback_rule("convert:purchase:5") == ("purchase", 5)
    assert conversions.postback_rule("yes") is None
    args = {"postback_data": "convert:signup", "phone": message.to, "message": message, "at": timezone.now()}
    made = conversions.from_postback(**args, event_id=77)
    assert (made.source, made.event, made.campaign_id, made.variant) == (
        "postback",
        "signup",
        campaign.pk,
        "A",
    )
    conversions.from_postback(**args, event_id=77)  # the same reply again: counted once
    assert Conversion.objects.filter(source="postback").count() == 1

    ShortLink.objects.create(code="abc123", url="https://example.com/x", message=message)
    settings.RCS_CONVERSION_LINK_EVENT = "landing"
    assert click_record(code="abc123", user_agent="Mozilla/5.0") == "https://example.com/x"
    click_record(code="abc123", user_agent="Mozilla/5.0")
    landing = Conversion.objects.get(source="link")
    assert (landing.event, landing.message_id, landing.variant) == ("landing", message.pk, "A")
