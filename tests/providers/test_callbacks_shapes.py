"""Every WIRE.md 3 shape, parsed by the real provider kinds, through the endpoint to the messages."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from campaigns.models import Contact, InboxMessage, Message
from providers.models import CallbackLog, ProviderEvent
from tests.api.factories import make_audience, make_message, make_provider
from tests.providers.payloads import FIXTURES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sync_tasks")]


def post(client, provider, body):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = reverse("callback", args=[provider.callback_token])
    return client.post(url, data=raw, content_type="application/json")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / "callbacks" / f"{name}.json").read_bytes()


def state(msg_id: str) -> tuple[str, str, str, str]:
    m = Message.objects.get(msg_id=msg_id)
    return m.status, m.rcs_status, m.sms_status, m.delivered_via


@pytest.fixture
def generic(db):
    provider = make_provider(kind="generic_rcs")
    for msg_id, fallback in (("m-1", False), ("m-2", True), ("m-4", True), ("m-5", False)):
        make_message(provider, msg_id=msg_id, to="+919812345678", sms_fallback=fallback)
    return provider


@pytest.fixture
def jiocx(db):
    provider = make_provider(kind="jiocx", config={"base_url": "https://api.jiocx.example.com/"})
    for msg_id in ("m-6", "m-7"):
        make_message(provider, msg_id=msg_id, to="+919812345678")
    return provider


def test_3a_status_batch(client, generic):
    make_audience(phones=("+919800000001",))
    response = post(client, generic, fixture_bytes("generic_status_batch"))
    assert response.status_code == 200
    # The "teleported" record is unusable: answered partial with it (docs/callbacks.md).
    assert response.json()["status"] == "partial"
    [unprocessed] = response.json()["unprocessed"]
    assert unprocessed["record"]["msg_id"] == "m-3" and "teleported" in unprocessed["error"]
    assert state("m-1") == ("read", "read", "", "RCS")
    m1 = Message.objects.get(msg_id="m-1")
    assert m1.clicked_at and m1.replied_at
    assert state("m-2") == ("delivered", "failed", "delivered", "SMS")
    reply = InboxMessage.objects.get(message__msg_id="m-1")
    assert (reply.text, reply.postback_data, reply.phone) == ("Thanks", "thanks", "+919812345678")
    stop = InboxMessage.objects.get(message=None)
    assert stop.action == "opt_out" and not Contact.objects.get(phone="+919800000001").subscribed


def test_3a_single_status(client, generic):
    body = {"payloadVersion": "0.1", "statuses": [{"msgId": "m-1", "status": "delivered", "timestamp": 1}]}
    assert post(client, generic, body).json() == {"status": "success", "processed": 1, "unprocessed": []}
    assert state("m-1")[0] == "delivered"


def test_3a_single_status_object_without_the_batch(client, generic):
    body = {"payloadVersion": "0.1", "msgId": "m-1", "channel": "RCS", "status": "read", "timestamp": 1}
    assert post(client, generic, body).status_code == 200
    assert state("m-1")[0] == "read"


def test_3b_sms_event_groups(client, generic):
    response = post(client, generic, fixture_bytes("generic_sms_events"))
    assert response.status_code == 200, response.content
    assert response.json()["processed"] == 4
    assert state("m-4") == ("read", "", "read", "SMS")
    m4 = Message.objects.get(msg_id="m-4")
    assert m4.clicked_at and m4.replied_at
    m5 = Message.objects.get(msg_id="m-5")
    assert (m5.status, m5.error_code) == ("failed", "905")
    assert InboxMessage.objects.get().text == "YES"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("jiocx_delivered", {"m-6": "delivered"}),  # under entity
        ("jiocx_failed", {"m-7": "failed"}),  # under webhookData
        ("jiocx_read_top_level", {"m-6": "read"}),  # top level
    ],
)
def test_3c_jiocx_status_under_entity_webhookdata_or_top_level(client, jiocx, name, expected):
    assert post(client, jiocx, fixture_bytes(name)).status_code == 200
    for msg_id, status in expected.items():
        assert state(msg_id)[0] == status


def test_3c_jiocx_suggestion_reply_and_user_text(client, jiocx):
    assert post(client, jiocx, fixture_bytes("jiocx_suggestion_reply")).status_code == 200
    assert post(client, jiocx, fixture_bytes("jiocx_user_text")).status_code == 200
    reply, text = InboxMessage.objects.order_by("created_at")
    assert reply.message.msg_id == "m-6" and reply.postback_data == "thanks"
    assert text.message is None and text.phone == "+919800000001" and text.text == "When will it arrive?"
    assert Message.objects.get(msg_id="m-6").replied_at


def test_3c_jiocx_batch_of_webhooks(client, jiocx):
    body = [json.loads(fixture_bytes("jiocx_delivered")), json.loads(fixture_bytes("jiocx_read_top_level"))]
    assert post(client, jiocx, body).json()["processed"] == 2
    assert state("m-6")[0] == "read"


def test_a_shape_of_the_other_kind_is_400(client, generic, jiocx):
    assert post(client, generic, fixture_bytes("jiocx_user_text")).status_code == 400
    assert post(client, jiocx, fixture_bytes("generic_sms_events")).status_code == 400
    assert CallbackLog.objects.count() == 2 and not ProviderEvent.objects.exists()


def test_3b_single_group_without_the_list(client, generic):
    body = {"event": "delivered", "data": [{"ts": 1764000100, "meta": "m-4"}]}
    assert post(client, generic, body).json()["processed"] == 1
    assert state("m-4") == ("delivered", "", "delivered", "SMS")
