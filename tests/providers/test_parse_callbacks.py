"""Callback bodies (providers/fixtures/callbacks/) -> normalised events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from providers.events import CallbackShapeError, DeliveryEvent, InboundMessage
from tests.providers.payloads import FIXTURES, payload_provider


def load(name):
    return json.loads((FIXTURES / "callbacks" / f"{name}.json").read_text())


def parse(slug, body):
    provider = payload_provider(slug)
    return provider.kind_class(provider).parse_callback(body)


def at(seconds):
    return datetime.fromtimestamp(seconds, UTC)


def test_generic_status_batch():
    events = parse("generic_rcs", load("generic_status_batch"))
    summary = [(e.msg_id, e.channel, e.status) for e in events if isinstance(e, DeliveryEvent)]
    assert summary == [
        ("m-1", "RCS", "delivered"),
        ("m-1", "RCS", "read"),
        ("m-2", "RCS", "failed"),
        ("m-2", "SMS", "delivered"),
        ("m-1", "RCS", "clicked"),
        ("m-1", "RCS", "replied"),
        ("m-3", "RCS", "teleported"),
    ]  # the unknown status is kept: the callback store reports it unprocessed
    assert events[0].timestamp == at(1764000000)
    assert events[1].timestamp == at(1764000005)  # epoch as a string
    assert (events[2].error_code, events[2].error_message) == ("2002", "Invalid phone number")
    assert events[4].url == "https://shop.example.com/t/1"
    assert (events[5].postback_data, events[5].text, events[5].from_number) == (
        "thanks",
        "Thanks",
        "+919812345678",
    )
    inbound = events[-1]
    assert isinstance(inbound, InboundMessage)
    assert (inbound.from_number, inbound.text) == ("+919800000001", "STOP")


def test_generic_sms_event_groups():
    events = parse("generic_rcs", load("generic_sms_events"))
    assert [(e.msg_id, e.channel, e.status) for e in events] == [
        ("m-4", "SMS", "delivered"),
        ("m-5", "SMS", "failed"),
        ("m-4", "SMS", "clicked"),
        ("m-4", "SMS", "replied"),
    ]
    assert (events[1].error_code, events[1].error_message) == ("905", "Number barred")
    assert events[1].timestamp == at(1764000110)
    assert events[2].url == "https://shop.example.com"
    assert events[3].text == "YES"


@pytest.mark.parametrize("body", [{}, {"foo": 1}, [], [1, 2], "text", {"statuses": "nope"}])
def test_generic_unknown_shapes_raise(body):
    with pytest.raises(CallbackShapeError):
        parse("generic_rcs", body)


def test_jiocx_events():
    delivered = parse("jiocx", load("jiocx_delivered"))[0]
    assert (delivered.msg_id, delivered.status, delivered.timestamp) == ("m-6", "delivered", at(1764000200))
    assert delivered.from_number == "+919812345678"
    failed = parse("jiocx", load("jiocx_failed"))[0]
    assert (failed.status, failed.error_code, failed.error_message) == (
        "failed",
        "4001",
        "User not RCS capable",
    )
    assert failed.timestamp == at(1764000210)  # milliseconds
    read = parse("jiocx", load("jiocx_read_top_level"))[0]
    assert (read.msg_id, read.status) == ("m-6", "read")
    reply = parse("jiocx", load("jiocx_suggestion_reply"))[0]
    assert (reply.msg_id, reply.status, reply.postback_data, reply.vendor_id) == (
        "m-6",
        "replied",
        "thanks",
        "jio-u-1",
    )
    inbound = parse("jiocx", load("jiocx_user_text"))[0]
    assert isinstance(inbound, InboundMessage)
    assert (inbound.from_number, inbound.text) == ("+919800000001", "When will it arrive?")


@pytest.mark.parametrize(
    "event_type", ["MESSAGE_EXPIRED", "MESSAGE_REVOKED", "SEND_MESSAGE_SUCCESS", "MESSAGE_SENT"]
)
def test_jiocx_other_event_types(event_type):
    (event,) = parse("jiocx", {"entity": {"eventType": event_type, "messageId": "m-8"}})
    assert event.status == ("failed" if event_type in ("MESSAGE_EXPIRED", "MESSAGE_REVOKED") else "sent")


@pytest.mark.parametrize("body", [{}, {"statuses": []}, [{"hello": 1}], "x"])
def test_jiocx_unknown_shapes_raise(body):
    with pytest.raises(CallbackShapeError):
        parse("jiocx", body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"entityType": "SMS_STATUS_EVENT", "entity": {"eventType": "SMS_DELIVERED", "messageId": "m-9"}},
            ("SMS", "delivered", ""),
        ),
        (
            {
                "entity": {
                    "eventType": "SMS_FAILED",
                    "messageId": "m-9",
                    "error": {"code": 908, "description": "x"},
                }
            },
            ("SMS", "failed", "908"),
        ),
        (
            {"entity": {"eventType": "MESSAGE_DELIVERED", "messageId": "m-9", "channel": "sms"}},
            ("SMS", "delivered", ""),
        ),
        (
            {"entity": {"eventType": "MESSAGE_DELIVERED", "messageId": "m-9", "channel": "RCS"}},
            ("RCS", "delivered", ""),
        ),
    ],
)
def test_jiocx_sms_fallback_events(body, expected):
    (event,) = parse("jiocx", body)
    assert (event.channel, event.status, event.error_code) == expected
