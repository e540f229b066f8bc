"""The single state-transition function: forward-only per channel, fallback accounting."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from campaigns.models import Message, MessageStatus
from campaigns.state import advance

T = datetime(2026, 1, 1, tzinfo=UTC)


def msg(**kw) -> Message:
    return Message(msg_id="m1", to="+15550001", **kw)


def test_forward_only_regardless_of_order():
    events = [("RCS", "sent"), ("RCS", "delivered"), ("RCS", "read")]
    for order in itertools.permutations(events):
        m = msg()
        for channel, status in order:
            advance(m, channel=channel, status=status, at=T)
        assert m.status == MessageStatus.READ
        assert m.rcs_status == "read"
        assert m.delivered_via == "RCS"


def test_repeated_event_changes_nothing():
    m = msg()
    assert advance(m, channel="RCS", status="delivered", at=T)
    assert not advance(m, channel="RCS", status="delivered", at=T)


def test_rcs_failed_with_fallback_then_sms_delivered_is_delivered_via_sms():
    m = msg(sms_fallback=True)
    c1 = advance(m, channel="RCS", status="sent", at=T)
    c2 = advance(m, channel="RCS", status="failed", at=T, error_code="1001")
    assert m.status == MessageStatus.SENT  # falling back, not an error
    c3 = advance(m, channel="SMS", status="delivered", at=T)
    assert m.status == MessageStatus.DELIVERED and m.delivered_via == "SMS"
    total = c1.counters + c2.counters + c3.counters
    assert total == {"sent": 1, "delivered_sms": 1, "processed": 1}  # processed: left the queue


def test_rcs_failed_without_fallback_is_failed():
    m = msg(sms_fallback=False)
    change = advance(m, channel="RCS", status="failed", at=T, error_code="2002")
    assert m.status == MessageStatus.FAILED and m.error_code == "2002"
    assert change.counters["failed"] == 1


def test_both_channels_failed_is_failed():
    m = msg(sms_fallback=True)
    advance(m, channel="RCS", status="failed", at=T)
    advance(m, channel="SMS", status="failed", at=T, error_code="905")
    assert m.status == MessageStatus.FAILED


@pytest.mark.parametrize("engagement", ["clicked", "replied"])
def test_engagement_implies_delivered_and_read(engagement):
    m = msg()
    change = advance(m, channel="RCS", status=engagement, at=T)
    assert m.status == MessageStatus.READ and m.delivered_at and m.read_at
    assert change.counters[engagement] == 1
    assert change.counters["delivered_rcs"] == 1 and change.counters["read"] == 1


def test_late_delivered_outranks_failed_and_fixes_counters():
    m = msg(sms_fallback=False)
    c1 = advance(m, channel="RCS", status="failed", at=T)
    c2 = advance(m, channel="RCS", status="delivered", at=T)
    assert m.status == MessageStatus.DELIVERED
    assert (c1.counters + c2.counters)["failed"] == 0


def test_whole_message_failure_before_any_channel():
    m = msg()
    advance(m, channel="", status="failed", at=T, error_code="2002", error_message="invalid phone")
    assert m.status == MessageStatus.FAILED and m.error_code == "2002"


@pytest.mark.parametrize("start", [MessageStatus.QUEUED, MessageStatus.SENDING])
@pytest.mark.parametrize(
    ("events", "outcome"),
    [
        ([], "sent"),
        ([("RCS", "delivered")], "sent"),  # the callback came first
        ([("RCS", "sent"), ("RCS", "read")], "retry"),  # it came first and the send timed out
        ([("RCS", "delivered")], None),  # the send's result was lost (its worker died)
        ([], "failed"),
        ([], "cancel"),
    ],
)
def test_a_message_is_processed_exactly_once_whatever_finishes_it_first(start, events, outcome):
    """processed (and so waiting = total - processed) follows from the status alone: +1 when the
    message leaves the queue for good, whichever writer moves it, never twice."""
    from collections import Counter

    from campaigns.state import send_outcome, tally

    m = msg(status=start, attempts=1)
    total = Counter()
    for channel, status in events:
        total += advance(m, channel=channel, status=status, at=T).counters
    if outcome:
        total += send_outcome(m, outcome=outcome, at=T, vendor_id="v1").counters
        total += send_outcome(m, outcome=outcome, at=T, vendor_id="v1").counters  # a repeat changes nothing
    assert total["processed"] == 1
    assert m.lease_until is None or not outcome
    # Every counter equals what the message's final state counts (a recount gives the same).
    assert {k: v for k, v in total.items() if v} == {k: 1 for k, on in tally(m).items() if on}


def test_a_retry_or_release_puts_an_unfinished_message_back_without_counting_it():
    from campaigns.state import send_outcome

    m = msg(status=MessageStatus.SENDING, attempts=2)
    change = send_outcome(m, outcome="retry", at=T, next_attempt_at=T, error_code="500", error_message="x")
    assert (m.status, m.attempts, m.error_code, m.next_attempt_at) == (MessageStatus.QUEUED, 2, "500", T)
    assert not change.counters
    m.status = MessageStatus.SENDING
    change = send_outcome(m, outcome="release", at=T, next_attempt_at=T, refund=True)
    assert (m.status, m.attempts) == (MessageStatus.QUEUED, 1) and not change.counters
