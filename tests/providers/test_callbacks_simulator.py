"""End to end over real HTTP: a message sent to the vendor simulator comes back as callbacks to our
endpoint (a live server) and moves the message; every simulator callback knob is survived."""

from __future__ import annotations

import time

import pytest

from campaigns.clicks import shorten_urls
from campaigns.models import InboxMessage, Message, ShortLink
from providers.content import OutboundMessage, SmsFallback
from providers.kinds.base import Outcome
from providers.models import CallbackLog, Provider
from providers.sending import send_message
from rcsconnect.http import outbound_session
from tests.api.factories import make_campaign, make_message, make_provider
from tests.postgresql import postgresql_only

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("sync_tasks"),
]


needs_postgres = postgresql_only(
    # The SQLite test database is in memory and the live server's threads share the test's one
    # connection, so concurrent callbacks would interleave inside each other's transactions.
    "concurrent callbacks into a live server need PostgreSQL (the suite runs on both)"
)


FAST = {"callback_delay_ms": 5, "callback_backoff_ms": 20}
OFFER = {
    "type": "TEXT",
    "text": "Diwali sale is on",
    "suggestions": [
        {"type": "REPLY", "text": "Yes please", "postback_data": "yes"},
        {
            "type": "OPEN_URL",
            "text": "Open offer",
            "postback_data": "open",
            "url": "https://shop.example/o/42",
        },
    ],
}


@pytest.fixture(autouse=True)
def quiet_simulator(simulator):
    """Close the live server's connections after every request (the simulator keeps its HTTP
    connections alive, so request threads live on) and let callbacks in flight land before the
    database is flushed."""
    from django.db import connection

    max_age = connection.settings_dict.get("CONN_MAX_AGE", 0)
    connection.settings_dict["CONN_MAX_AGE"] = 0  # the dict is shared by every thread's connection
    yield
    seen, deadline = -1, time.monotonic() + 5
    while time.monotonic() < deadline:
        log = simulator.callbacks(limit=500)
        if len(log) == seen and all(entry["status"] is not None for entry in log):
            break
        seen = len(log)
        time.sleep(0.2)
    connection.settings_dict["CONN_MAX_AGE"] = max_age


@pytest.fixture
def public_url(settings, live_server):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.CLICK_TRACKING_BASE_URL = live_server.url
    return live_server.url


@pytest.fixture
def generic(simulator, public_url) -> Provider:
    return make_provider(
        kind="generic_rcs",
        sender_id="acme",
        config={"endpoint": f"{simulator.url}/generic/messages", "method": "POST", "auth_type": "none"},
    )


def send(provider: Provider, message: Message, content=None) -> None:
    outbound = OutboundMessage(
        msg_id=message.msg_id,
        to=message.to,
        content=content or {"type": "TEXT", "text": "Hello", "suggestions": []},
        callback_url=provider.callback_url,
        sms=SmsFallback(body="Hello by SMS") if message.sms_fallback else None,
    )
    attempt = send_message(provider, outbound, session=outbound_session())
    assert attempt.result.outcome == Outcome.SENT, attempt


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def status(msg_id: str) -> str:
    return Message.objects.get(msg_id=msg_id).status


def test_simulator_callbacks_move_the_message_to_read(simulator, generic):
    simulator.configure(**FAST)
    message = make_message(generic, make_campaign(generic), to="+49151123451")
    send(generic, message)
    wait_for(lambda: status(message.msg_id) == "read")
    message.refresh_from_db()
    assert message.delivered_via == "RCS" and message.delivered_at and message.read_at
    assert message.campaign.read_count == 1 and message.campaign.delivered_rcs_count == 1
    assert CallbackLog.objects.filter(provider=generic).count() == 3


def test_not_rcs_capable_falls_back_and_counts_as_delivered_via_sms(simulator, generic):
    simulator.configure(**FAST)
    message = make_message(generic, make_campaign(generic), to="+49151123450", sms_fallback=True)
    send(generic, message)
    wait_for(lambda: status(message.msg_id) == "delivered")
    message.refresh_from_db()
    assert (message.rcs_status, message.sms_status, message.delivered_via) == ("failed", "delivered", "SMS")
    campaign = message.campaign
    campaign.refresh_from_db()
    assert (campaign.delivered_sms_count, campaign.failed_count) == (1, 0)


def test_signed_duplicated_shuffled_early_callbacks(simulator, generic):
    generic.callback_hmac_secrets = ["rotated-in", "sim-hmac"]
    generic.save()
    simulator.configure(
        hmac_secret="sim-hmac", duplicate_callbacks=1.0, shuffle_callbacks=True, early_callbacks=True, **FAST
    )
    campaign = make_campaign(generic)
    messages = [make_message(generic, campaign, to=f"+49151123460{i}") for i in range(1, 6)]
    for message in messages:
        send(generic, message)
    wait_for(lambda: all(status(m.msg_id) == "read" for m in messages))
    wait_for(lambda: simulator.stats()["callbacks"]["posted"] >= 30)  # 3 events x 5 messages x 2 copies
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.delivered_rcs_count, campaign.read_count) == (5, 5, 5)


def test_a_wrong_hmac_secret_is_refused_and_changes_nothing(simulator, generic):
    generic.callback_hmac_secrets = ["ours"]
    generic.save()
    simulator.configure(hmac_secret="someone-else", callback_retries=0, **FAST)
    message = make_message(generic, to="+49151123451")
    send(generic, message)
    wait_for(lambda: simulator.stats()["callbacks"]["rejected"] >= 3)
    assert status(message.msg_id) == "queued" and not CallbackLog.objects.exists()


def test_replies_and_clicks_through_our_short_links(simulator, generic):
    simulator.configure(reply_share=1.0, click_share=1.0, follow_clicks=True, **FAST)
    campaign = make_campaign(generic)
    message = make_message(generic, campaign, to="+49151123451")
    send(generic, message, shorten_urls(OFFER, message=message))
    wait_for(lambda: ShortLink.objects.filter(click_count__gt=0).exists())
    wait_for(lambda: InboxMessage.objects.exists())
    link = ShortLink.objects.get()
    assert link.url == "https://shop.example/o/42" and link.click_count == 1 and link.first_clicked_at
    reply = InboxMessage.objects.get()
    assert (reply.message_id, reply.postback_data, reply.phone) == (message.pk, "yes", "+49151123451")
    campaign.refresh_from_db()
    wait_for(lambda: Message.objects.get(pk=message.pk).replied_at)
    campaign.refresh_from_db()
    assert (campaign.clicked_count, campaign.replied_count) == (1, 1)


def test_jiocx_webhooks_move_the_message(simulator, public_url):
    provider = make_provider(
        kind="jiocx",
        sender_id="acme-agent",
        config={"base_url": f"{simulator.url}/jiocx", "click_tracking": "off"},
        secrets={"api_key": "sim-api-key"},
    )
    simulator.configure(jiocx_webhooks={"acme-agent": provider.callback_url}, reply_share=1.0, **FAST)
    message = make_message(provider, make_campaign(provider), to="+49151123451")
    send(provider, message, OFFER)
    wait_for(lambda: Message.objects.get(pk=message.pk).replied_at)
    assert status(message.msg_id) == "read"
    assert InboxMessage.objects.get().message_id == message.pk
