"""Applying vendor events: any order, duplicates, early and unknown ids; fallback; counters; inbox."""

from __future__ import annotations

import json
import random

import pytest
from django.urls import reverse

from campaigns.events import apply_pending, apply_pending_for, opt_word
from campaigns.models import Campaign, Contact, InboxMessage, Message, StatBucket
from campaigns.state import FUNNEL, funnel
from providers.models import ProviderEvent
from tests.api.factories import make_audience, make_campaign, make_message

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sync_tasks")]
T0 = 1_767_000_000
STATUS_RANK = {"queued": 0, "sending": 0, "sent": 1, "failed": 2, "delivered": 3, "read": 4}


def post(client, provider, events):
    url = reverse("callback", args=[provider.callback_token])
    response = client.post(url, data=json.dumps({"events": events}), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def expected_counters(campaign: Campaign) -> dict[str, int]:
    counts = dict.fromkeys(FUNNEL, 0)
    for message in campaign.messages.all():
        for name, on in funnel(message).items():
            counts[name] += on
    return counts


def counters(campaign: Campaign) -> dict[str, int]:
    campaign.refresh_from_db()
    return {name: getattr(campaign, f"{name}_count") for name in FUNNEL}


def history(i: int, fallback: bool) -> list[dict]:
    """A plausible life of message i: what the vendor reports, in occurrence order."""
    msg_id, ts = f"m-{i}", T0 + i
    if fallback:
        return [
            {"msgId": msg_id, "status": "sent", "ts": ts},
            {"msgId": msg_id, "status": "failed", "code": "1001", "ts": ts + 1},
            {"msgId": msg_id, "channel": "SMS", "status": "sent", "ts": ts + 2},
            {"msgId": msg_id, "channel": "SMS", "status": "delivered", "ts": ts + 3},
        ]
    events = [
        {"msgId": msg_id, "status": "sent", "ts": ts},
        {"msgId": msg_id, "status": "delivered", "ts": ts + 1},
        {"msgId": msg_id, "status": "read", "ts": ts + 2},
    ]
    if i % 3 == 0:
        events.append({"msgId": msg_id, "status": "clicked", "url": "https://shop.example/x", "ts": ts + 3})
    return events


def test_shuffled_tripled_early_and_unknown_end_in_the_highest_state(client, double_provider):
    rng = random.Random(7)
    campaign = make_campaign(double_provider)
    n, early = 30, range(25, 30)  # messages 25..29 do not exist yet when their callbacks arrive
    messages = {
        i: make_message(double_provider, campaign, msg_id=f"m-{i}", sms_fallback=i % 4 == 1)
        for i in range(n)
        if i not in early
    }
    events = [e for i in range(n) for e in history(i, fallback=i % 4 == 1)]
    events += [{"msgId": "ghost-1", "status": "delivered", "ts": T0}, {"msgId": "ghost-2", "status": "read"}]
    stream = events * 3
    rng.shuffle(stream)

    seen_rank: dict[str, int] = {}
    position = 0
    while position < len(stream):
        size = rng.randint(1, 12)
        post(client, double_provider, stream[position : position + size])
        position += size
        for message in Message.objects.filter(msg_id__in=[m.msg_id for m in messages.values()]):
            rank = STATUS_RANK[message.status]
            assert rank >= seen_rank.get(message.msg_id, 0), f"{message.msg_id} went back to {message.status}"
            seen_rank[message.msg_id] = rank
    assert counters(campaign) == expected_counters(campaign)

    # The early ones appear (the engine writes them) and their waiting events are applied.
    for i in early:
        make_message(double_provider, campaign, msg_id=f"m-{i}", sms_fallback=i % 4 == 1)
    result = apply_pending_for([f"m-{i}" for i in early])
    assert result.applied == len([e for i in early for e in history(i, i % 4 == 1)])

    for i in range(n):
        message = Message.objects.get(msg_id=f"m-{i}")
        if i % 4 == 1:
            assert (message.status, message.rcs_status, message.sms_status) == (
                "delivered",
                "failed",
                "delivered",
            )
            assert message.delivered_via == "SMS"
        else:
            assert (message.status, message.rcs_status, message.delivered_via) == ("read", "read", "RCS")
            assert bool(message.clicked_at) == (i % 3 == 0)
    assert counters(campaign) == expected_counters(campaign)
    final = counters(campaign)
    assert final["delivered_sms"] == sum(1 for i in range(n) if i % 4 == 1)
    assert final["failed"] == 0
    assert final["sent"] == n
    # One stored event per distinct vendor event; only the unknown ids still wait.
    assert ProviderEvent.objects.count() == len(events)
    assert set(ProviderEvent.objects.filter(applied=False).values_list("msg_id", flat=True)) == {
        "ghost-1",
        "ghost-2",
    }
    # The hourly stats saw the same deltas as the counters.
    delivered_sms = sum(StatBucket.objects.filter(campaign=campaign).values_list("delivered_sms", flat=True))
    assert delivered_sms == final["delivered_sms"]


def test_replaying_everything_again_changes_nothing(client, double_provider):
    campaign = make_campaign(double_provider)
    for i in range(5):
        make_message(double_provider, campaign, msg_id=f"m-{i}", sms_fallback=True)
    events = [e for i in range(5) for e in history(i, fallback=True)]
    post(client, double_provider, events)
    before = counters(campaign), list(Message.objects.values())
    post(client, double_provider, list(reversed(events)))
    assert apply_pending_for([f"m-{i}" for i in range(5)]).applied == 0
    assert (counters(campaign), list(Message.objects.values())) == before


def test_rcs_failed_then_sms_delivered_counts_as_delivered_via_sms(client, double_provider):
    campaign = make_campaign(double_provider)
    make_message(double_provider, campaign, msg_id="fb", sms_fallback=True)
    post(client, double_provider, [{"msgId": "fb", "status": "failed", "code": "1001"}])
    message = Message.objects.get(msg_id="fb")
    assert message.status == "sent" and counters(campaign)["failed"] == 0  # falling back, not an error
    post(client, double_provider, [{"msgId": "fb", "channel": "SMS", "status": "delivered"}])
    message.refresh_from_db()
    assert (message.status, message.delivered_via) == ("delivered", "SMS")
    assert counters(campaign) == {**dict.fromkeys(FUNNEL, 0), "sent": 1, "delivered_sms": 1}


def test_sms_delivered_before_rcs_failed_is_still_delivered_via_sms(client, double_provider):
    campaign = make_campaign(double_provider)
    make_message(double_provider, campaign, msg_id="fb", sms_fallback=True)
    post(client, double_provider, [{"msgId": "fb", "channel": "SMS", "status": "delivered"}])
    post(client, double_provider, [{"msgId": "fb", "status": "failed", "code": "1001"}])
    message = Message.objects.get(msg_id="fb")
    assert (message.status, message.delivered_via) == ("delivered", "SMS")
    assert counters(campaign)["failed"] == 0 and counters(campaign)["delivered_sms"] == 1


def test_failure_without_fallback_is_an_error_with_its_code(client, double_provider):
    campaign = make_campaign(double_provider)
    make_message(double_provider, campaign, msg_id="nf", sms_fallback=False)
    post(client, double_provider, [{"msgId": "nf", "status": "failed", "code": "2002"}])
    message = Message.objects.get(msg_id="nf")
    assert (message.status, message.error_code) == ("failed", "2002")
    assert counters(campaign)["failed"] == 1


def test_both_channels_failed_is_an_error(client, double_provider):
    campaign = make_campaign(double_provider)
    make_message(double_provider, campaign, msg_id="ff", sms_fallback=True)
    post(
        client,
        double_provider,
        [
            {"msgId": "ff", "status": "failed"},
            {"msgId": "ff", "channel": "SMS", "status": "failed", "code": "905"},
        ],
    )
    assert Message.objects.get(msg_id="ff").status == "failed"
    assert counters(campaign)["failed"] == 1


def test_engagement_implies_delivered_and_read(client, double_provider):
    campaign = make_campaign(double_provider)
    make_message(double_provider, campaign, msg_id="e1")
    post(client, double_provider, [{"msgId": "e1", "status": "clicked", "url": "https://x.example"}])
    message = Message.objects.get(msg_id="e1")
    assert message.status == "read" and message.delivered_at and message.read_at and message.clicked_at
    assert counters(campaign) == {
        **dict.fromkeys(FUNNEL, 0),
        "sent": 1,
        "delivered_rcs": 1,
        "read": 1,
        "clicked": 1,
    }


# -- inbox ------------------------------------------------------------------------------------------
def test_reply_to_a_message_goes_to_the_inbox_once(client, double_provider):
    campaign = make_campaign(double_provider)
    message = make_message(double_provider, campaign, msg_id="r1", to="+15550009999")
    reply = {"msgId": "r1", "status": "replied", "text": "Yes please", "postback": "yes", "ts": T0}
    for _ in range(3):
        post(client, double_provider, [reply])
    entry = InboxMessage.objects.get()
    assert (entry.direction, entry.phone, entry.text, entry.postback_data) == (
        "in",
        "+15550009999",
        "Yes please",
        "yes",
    )
    assert entry.message == message and entry.provider == double_provider
    message.refresh_from_db()
    assert message.replied_at and message.status == "read"
    assert counters(campaign)["replied"] == 1


def test_two_different_replies_are_two_inbox_entries(client, double_provider):
    make_message(double_provider, msg_id="r1")
    post(client, double_provider, [{"msgId": "r1", "status": "replied", "text": "Hi", "ts": T0}])
    post(client, double_provider, [{"msgId": "r1", "status": "replied", "text": "Hi", "ts": T0 + 60}])
    assert InboxMessage.objects.count() == 2


def test_inbound_without_msg_id_links_to_the_latest_message_to_that_number(client, double_provider):
    from django.utils import timezone

    old = make_message(double_provider, msg_id="old", to="+919800000001", sent_at=timezone.now())
    new = make_message(double_provider, msg_id="new", to="+919800000001", sent_at=timezone.now())
    post(client, double_provider, [{"from": "919800000001", "text": "Where is my order?"}])
    entry = InboxMessage.objects.get()
    assert entry.phone == "+919800000001" and entry.message == new
    new.refresh_from_db()
    old.refresh_from_db()
    assert new.replied_at and not old.replied_at


def test_inbound_from_a_stranger_is_kept_without_a_message(client, double_provider):
    post(client, double_provider, [{"from": "+15551234567", "text": "hello?"}])
    entry = InboxMessage.objects.get()
    assert entry.message is None and entry.phone == "+15551234567"
    assert ProviderEvent.objects.get().applied


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Stop. ", "UNSUBSCRIBE", "Cancel", "end", "QUIT", "STOP ALL", "opt-out"]
)
def test_stop_words_unsubscribe_the_number_everywhere(client, double_provider, word):
    make_audience(phones=("+15550001001", "+15550001002"))
    make_audience(phones=("+15550001001",))
    make_message(double_provider, msg_id="s1", to="+15550001001")
    post(client, double_provider, [{"msgId": "s1", "status": "replied", "text": word}])
    assert not Contact.objects.filter(phone="+15550001001", subscribed=True).exists()
    assert Contact.objects.get(phone="+15550001002").subscribed
    assert InboxMessage.objects.get().action == "opt_out"


def test_start_subscribes_again_and_ordinary_words_do_nothing(client, double_provider):
    make_audience(phones=("+15550001001",))
    post(client, double_provider, [{"from": "+15550001001", "text": "STOP", "ts": T0}])
    assert not Contact.objects.get().subscribed
    post(client, double_provider, [{"from": "+15550001001", "text": "Please don't stop", "ts": T0 + 1}])
    assert not Contact.objects.get().subscribed
    post(client, double_provider, [{"from": "+15550001001", "text": "START", "ts": T0 + 2}])
    assert Contact.objects.get().subscribed


def test_stop_tapped_as_a_suggestion_counts(client, double_provider):
    make_audience(phones=("+15550001001",))
    post(
        client,
        double_provider,
        [{"from": "+15550001001", "text": "No more messages", "postback": "UNSUBSCRIBE"}],
    )
    assert not Contact.objects.get().subscribed


def test_opt_word():
    assert opt_word("Stop!") == "opt_out" and opt_word("", "optout") == "opt_out"
    assert opt_word("unstop") == "opt_in"
    assert opt_word("stop sending me these offers please") == ""


def test_sweep_applies_pending_events_whose_message_exists(client, double_provider):
    post(client, double_provider, [{"msgId": "late", "status": "delivered"}])
    make_message(double_provider, msg_id="late")
    assert apply_pending(provider_id=double_provider.pk).applied == 1
    assert Message.objects.get(msg_id="late").status == "delivered"


# -- the applier task --------------------------------------------------------------------------------
@pytest.fixture
def queued_tasks(monkeypatch):
    """Tasks go to the broker (not inline): what a web process does under a running task cluster."""
    from django.core.cache import cache
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)
    cache.delete("rcs:events-applier")
    yield
    cache.delete("rcs:events-applier")


def test_callbacks_only_store_and_one_applier_task_is_queued(
    client, double_provider, queued_tasks, monkeypatch
):
    from django_q.models import OrmQ

    from campaigns.events import events_applier_run

    make_message(double_provider, msg_id="q-1")
    make_message(double_provider, msg_id="q-2")
    post(client, double_provider, [{"msgId": "q-1", "status": "delivered"}])
    post(client, double_provider, [{"msgId": "q-2", "status": "read"}, {"msgId": "q-9", "status": "read"}])
    assert Message.objects.get(msg_id="q-1").status == "queued"  # stored, not applied yet
    assert OrmQ.objects.count() == 1  # one applier for both callbacks
    assert events_applier_run() == 2
    assert Message.objects.get(msg_id="q-1").status == "delivered"
    assert Message.objects.get(msg_id="q-2").status == "read"
    assert list(ProviderEvent.objects.filter(applied=False).values_list("msg_id", flat=True)) == ["q-9"]
    # The applier gave its mark up: the next callback queues a new one.
    post(client, double_provider, [{"msgId": "q-1", "status": "read"}])
    assert OrmQ.objects.count() == 2


def test_applier_hands_over_when_its_budget_is_spent(double_provider, queued_tasks, monkeypatch):
    from django_q.models import OrmQ

    from campaigns import events

    monkeypatch.setattr(events, "APPLIER_BATCH", 2)
    for i in range(5):
        make_message(double_provider, msg_id=f"b-{i}")
    from providers.callbacks import callback_receive

    callback_receive(
        provider=double_provider,
        body=json.dumps({"events": [{"msgId": f"b-{i}", "status": "delivered"} for i in range(5)]}).encode(),
    )
    assert OrmQ.objects.count() == 1
    assert events.events_applier_run(budget=0) == 0  # nothing done, a successor is queued
    assert OrmQ.objects.count() == 2
    assert events.events_applier_run() == 5


def test_the_periodic_kick_recovers_events_left_pending(client, double_provider, queued_tasks, monkeypatch):
    from django_q.conf import Conf

    from campaigns.events import events_applier_kick

    make_message(double_provider, msg_id="k-1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("campaigns.events.events_applier_kick", lambda: False)  # the kick was lost
        post(client, double_provider, [{"msgId": "k-1", "status": "delivered"}])
    monkeypatch.setattr(Conf, "SYNC", True)
    assert events_applier_kick()  # what the minute schedule runs
    assert Message.objects.get(msg_id="k-1").status == "delivered"


class FakeClock:
    """`time` for campaigns.events: sleeping moves the clock on and runs what falls due meanwhile."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.due: list[tuple[float, object]] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.run_until(self.now + seconds)

    def run_until(self, end: float) -> None:
        while self.due and min(self.due)[0] <= end:
            at, action = self.due.pop(self.due.index(min(self.due)))
            self.now = max(self.now, at)
            action()
        self.now = max(self.now, end)


def test_a_process_that_saw_the_applier_queued_skips_its_kicks_for_a_moment(
    client, double_provider, queued_tasks, monkeypatch
):
    from django.core.cache import cache
    from django_q.models import OrmQ

    from campaigns import events

    clock, asked = FakeClock(), []
    monkeypatch.setattr(events, "time", clock)

    class CountingCache:
        def __getattr__(self, name):
            return getattr(cache, name)

        def add(self, *args, **kwargs):
            asked.append(args[0])
            return cache.add(*args, **kwargs)

    monkeypatch.setattr(events, "cache", CountingCache())
    for i in range(3):
        post(client, double_provider, [{"msgId": f"s-{i}", "status": "delivered"}])
    assert len(asked) == 1 and OrmQ.objects.count() == 1  # one cache round trip, one applier queued
    clock.now += events.KICK_MEMO_SECONDS
    post(client, double_provider, [{"msgId": "s-9", "status": "delivered"}])
    assert len(asked) == 2 and OrmQ.objects.count() == 1  # asked again: still queued


@pytest.mark.parametrize("after", [0.0, 0.5, 2.0])  # in KICK_MEMO_SECONDS after the applier lets go
def test_an_event_stored_as_the_applier_finishes_is_applied(
    client, double_provider, queued_tasks, monkeypatch, after
):
    """The race a skipped kick could lose: a web process sees the applier running, the applier gives
    its mark up, and only then is that process's next callback stored (its kick skipped or not)."""
    from django.core.cache import cache
    from django_q.models import OrmQ

    from campaigns import events

    clock = FakeClock()
    monkeypatch.setattr(events, "time", clock)
    make_message(double_provider, msg_id="f-1")
    make_message(double_provider, msg_id="f-2")
    post(client, double_provider, [{"msgId": "f-1", "status": "delivered"}])  # queues the applier
    late = [{"msgId": "f-2", "status": "delivered"}]

    class LateCallback:
        """The cache, with a callback stored `after` the applier's first release of its mark."""

        def __getattr__(self, name):
            return getattr(cache, name)

        def delete(self, key, *args, **kwargs):
            assert not events.events_applier_kick()  # the web process sees the mark held, just before
            cache.delete(key, *args, **kwargs)
            if not clock.due and late:
                at = clock.now + after * events.KICK_MEMO_SECONDS
                clock.due.append((at, lambda: post(client, double_provider, [late.pop()])))

    monkeypatch.setattr(events, "cache", LateCallback())
    applied = events.events_applier_run()
    clock.run_until(clock.now + 3 * events.KICK_MEMO_SECONDS)  # the callback comes after the run
    assert not late  # it did come
    if after < 1:
        # Stored while the applier was still looking: applied by this run, no second task queued.
        assert applied == 2 and OrmQ.objects.count() == 1
    else:
        # Stored after the run: the kick was not skipped, a new applier is queued and applies it.
        assert applied == 1 and OrmQ.objects.count() == 2
        assert events.events_applier_run() == 1
    assert Message.objects.get(msg_id="f-2").status == "delivered"
    assert not ProviderEvent.objects.filter(applied=False).exists()


def test_a_postback_matching_the_conversion_rule_is_a_conversion_once(client, double_provider, settings):
    from campaigns.models import Conversion

    settings.RCS_CONVERSION_POSTBACK_PREFIX = "convert:"
    campaign = make_campaign(double_provider)
    message = make_message(double_provider, campaign, msg_id="cv1", to="+15550009998", variant="B")
    reply = {
        "msgId": "cv1",
        "status": "replied",
        "text": "Buy",
        "postback": "convert:purchase:19.99",
        "ts": T0,
    }
    for _ in range(3):  # the vendor repeats it: one event, one conversion
        post(client, double_provider, [reply])
    post(client, double_provider, [{**reply, "postback": "later", "ts": T0 + 5}])  # not by the rule
    conversion = Conversion.objects.get()
    assert (conversion.source, conversion.event, str(conversion.value)) == ("postback", "purchase", "19.99")
    assert (conversion.message, conversion.campaign, conversion.variant) == (message, campaign, "B")
