"""The simulator against the real provider kinds: their requests pass its contract checks, its
answers classify as WIRE.md 1.3 says, and its callbacks parse into the expected normalised events."""

from __future__ import annotations

import pytest

from providers.content import OutboundMessage, SmsFallback
from providers.kinds.base import Outcome
from providers.models import Provider
from providers.sending import send_message
from rcsconnect.http import outbound_session
from tests.providers.payloads import CONTENT_FIXTURES, fixture

from .helpers import send, send_jiocx

pytestmark = pytest.mark.django_db

FAST = {"callback_delay_ms": 5}
SUGGESTIONS = [
    {"type": "REPLY", "text": "Yes", "postback_data": "yes-1"},
    {"type": "OPEN_URL", "text": "Open", "postback_data": "open-1", "url": "https://shop.example.com/o/1"},
]


@pytest.fixture
def session(simulator):
    with outbound_session(timeout=(2.0, 2.0)) as s:
        yield s


@pytest.fixture(autouse=True)
def _clean_token_cache(db):
    from django.core.cache import cache

    cache.clear()


def generic_provider(simulator, auth="none") -> Provider:
    config = {"method": "POST", "endpoint": f"{simulator.url}/generic/messages", "auth_type": auth}
    secrets = {}
    if auth == "basic":
        config["username"], secrets["password"] = "sim-user", "sim-pass"
    if auth == "oauth2":
        config.update(client_url=f"{simulator.url}/oauth/token", client_id="sim-client")
        secrets["client_secret"] = "sim-secret"
    return Provider.objects.create(
        kind="generic_rcs", nickname=f"sim {auth}", sender_id="sim-agent", config=config, secrets=secrets
    )


def jiocx_provider(simulator) -> Provider:
    return Provider.objects.create(
        kind="jiocx",
        nickname="sim jiocx",
        sender_id="sim-jio-agent",
        config={"base_url": f"{simulator.url}/jiocx", "click_tracking": "off"},
        secrets={"api_key": "sim-api-key"},
    )


def outbound(msg_id, to="+4915112345671", callback_url="http://127.0.0.1:9/cb", sms=False) -> OutboundMessage:
    return OutboundMessage(
        msg_id=msg_id,
        to=to,
        content={"type": "TEXT", "text": "Hello from the interop test", "suggestions": SUGGESTIONS},
        callback_url=callback_url,
        sms=SmsFallback(body="Hello by SMS") if sms else None,
    )


@pytest.mark.parametrize("name", CONTENT_FIXTURES)
def test_provider_payload_fixtures_pass_the_contract_checks(simulator, name):
    generic = send(simulator, fixture("generic_rcs", name)["request"]["json"])
    assert generic.status_code == 200, generic.text
    jio = send_jiocx(simulator, fixture("jiocx", name)["request"]["json"])
    assert jio.status_code == 200, jio.text


@pytest.mark.parametrize("auth", ["none", "basic", "oauth2"])
def test_generic_kind_sends_with_each_auth_mode(simulator, session, auth):
    simulator.configure(auth={"oauth2": "oauth"}.get(auth, auth), callbacks=False)
    attempt = send_message(generic_provider(simulator, auth), outbound("i-1"), session=session)
    assert attempt.result.outcome == Outcome.SENT, attempt.response_body
    assert simulator.stats("sim-agent")["accepted"] == 1


def test_expired_token_is_refreshed_once(simulator, session):
    simulator.configure(auth="oauth", token_expires_in=0, callbacks=False)
    attempt = send_message(generic_provider(simulator, "oauth2"), outbound("i-2"), session=session)
    assert attempt.result.outcome == Outcome.RETRY and attempt.result.provider_unhealthy
    assert simulator.stats()["tokens_issued"] == 2  # the first token and one refresh, then it gives up


@pytest.mark.parametrize(
    ("knobs", "outcome", "check"),
    [
        ({"error_500": 1.0}, Outcome.RETRY, lambda r: True),
        ({"error_429": 1.0, "retry_after": 2}, Outcome.RETRY, lambda r: r.throttled and r.retry_after == 2),
        ({"timeout": 1.0, "timeout_hold_ms": 3000}, Outcome.RETRY, lambda r: True),
        ({"reset": 1.0}, Outcome.RETRY, lambda r: True),
        ({"failure_200": 1.0, "failure_code": 2003}, Outcome.FAILED, lambda r: r.error_code == "2003"),
        ({"invalid_suffix": "71"}, Outcome.FAILED, lambda r: r.error_code == "2002"),
    ],
    ids=["500", "429", "timeout", "reset", "failure-200", "invalid-number"],
)
def test_fault_knobs_classify_as_wire_1_3_says(simulator, session, knobs, outcome, check):
    simulator.configure(callbacks=False, **knobs)
    with outbound_session(timeout=(2.0, 0.5)) as short:
        attempt = send_message(generic_provider(simulator), outbound("i-3"), session=short)
    assert attempt.result.outcome == outcome
    assert check(attempt.result), attempt.result


def events_from(kind, receiver, count):
    events = []
    for post in receiver.wait(count):
        events += kind.parse_callback(post["json"])
    return events


def test_generic_callbacks_parse_into_the_expected_events(simulator, session, receiver):
    simulator.configure(click_share=1.0, reply_share=1.0, **FAST)
    provider = generic_provider(simulator)
    send_message(provider, outbound("g-1", callback_url=receiver.url), session=session)
    send_message(
        provider, outbound("g-2", to="+4915112345670", callback_url=receiver.url, sms=True), session=session
    )
    events = events_from(provider.kind_class(provider), receiver, 7)
    by_msg = {}
    for event in events:
        by_msg.setdefault(event.msg_id, []).append(event)
    assert [e.status for e in by_msg["g-1"]] == ["sent", "delivered", "read", "clicked", "replied"]
    clicked, replied = by_msg["g-1"][3], by_msg["g-1"][4]
    assert clicked.url == "https://shop.example.com/o/1" and clicked.from_number == "+4915112345671"
    assert replied.postback_data == "yes-1"
    assert [(e.channel, e.status) for e in by_msg["g-2"]] == [("RCS", "failed"), ("SMS", "delivered")]


def test_jiocx_callbacks_parse_into_the_expected_events(simulator, session, receiver):
    provider = jiocx_provider(simulator)
    simulator.configure(
        jiocx_webhooks={"sim-jio-agent": receiver.url}, click_share=1.0, reply_share=1.0, **FAST
    )
    attempt = send_message(provider, outbound("j-1"), session=session)
    assert attempt.result.outcome == Outcome.SENT, attempt.response_body
    events = events_from(provider.kind_class(provider), receiver, 5)
    assert [(e.msg_id, e.status) for e in events] == [
        ("j-1", "sent"),
        ("j-1", "delivered"),
        ("j-1", "read"),
        ("j-1", "clicked"),
        ("j-1", "replied"),
    ]
    assert events[3].url == "https://shop.example.com/o/1" and events[4].postback_data == "yes-1"
    assert events[4].from_number == "+4915112345671"


def test_jiocx_sms_fallback_events_are_sms(simulator, session, receiver):
    provider = jiocx_provider(simulator)
    simulator.configure(jiocx_webhooks={"sim-jio-agent": receiver.url}, **FAST)
    send_message(provider, outbound("j-2", to="+4915112345670", sms=True), session=session)
    events = events_from(provider.kind_class(provider), receiver, 2)
    assert [(e.channel, e.status) for e in events] == [("RCS", "failed"), ("SMS", "delivered")]
