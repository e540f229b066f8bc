"""Hostile and broken callback bodies: stored byte-exact, a cap on events, storage time linear in events."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from providers.models import CallbackLog, ProviderEvent
from tests.api.factories import make_message, make_provider

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sync_tasks")]


def post(client, provider, raw: bytes, **headers):
    url = reverse("callback", args=[provider.callback_token])
    return client.post(url, data=raw, content_type="application/json", headers=headers)


@pytest.fixture
def generic(db):
    return make_provider(kind="generic_rcs")


def statuses(*items) -> bytes:
    return json.dumps({"payloadVersion": "0.1", "statuses": list(items)}).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"statuses": [{"msgId": "m-1", "status": "deli\x00vered"}]}',  # a raw NUL byte: not JSON
        b"\xff\xfe not utf-8 \x00",
        b"\x00",
    ],
    ids=["raw_nul_in_json", "invalid_utf8", "only_nul"],
)
def test_a_body_json_cannot_hold_is_stored_byte_exact_and_answered_400(client, generic, raw):
    response = post(client, generic, raw)
    assert response.status_code == 400 and response.json()["status"] == "error"
    log = CallbackLog.objects.get()
    assert log.raw_body() == raw and "\x00" not in log.body
    log.refresh_from_db()
    assert log.raw_body() == raw


def test_escaped_nul_in_json_strings_is_stored_and_its_events_applied(client, generic):
    make_message(generic, msg_id="m-1")
    raw = statuses(
        {"msgId": "m-1", "channel": "RCS", "status": "delivered", "timestamp": 1767000000},
        {"msgId": "m-1", "channel": "RCS", "status": "failed", "errorMessage": "bad\u0000thing"},
        {"msgId": "m-\u00002", "channel": "RCS", "status": "read"},
    )
    assert b"\\u0000" in raw
    response = post(client, generic, raw)
    assert response.status_code == 200, response.content
    assert response.json()["processed"] == 3
    log = CallbackLog.objects.get()
    assert log.raw_body() == raw and log.raw is None  # the text is the body exactly
    assert ProviderEvent.objects.count() == 3
    assert ProviderEvent.objects.filter(msg_id="m-\ufffd2").exists()


def test_more_events_than_the_cap_answer_413_with_json_and_keep_the_body(client, generic, settings):
    settings.RCS_CALLBACK_MAX_EVENTS = 5
    raw = statuses(*({"msgId": f"m-{i}", "channel": "RCS", "status": "sent"} for i in range(6)))
    response = post(client, generic, raw)
    assert response.status_code == 413
    assert response.json()["status"] == "error" and "at most 5" in response.json()["error"]
    assert CallbackLog.objects.get().raw_body() == raw
    assert not ProviderEvent.objects.exists()
    assert (
        post(client, generic, statuses({"msgId": "m-1", "channel": "RCS", "status": "sent"})).status_code
        == 200
    )


def _store_seconds(client, provider, n: int, offset: int) -> float:
    raw = statuses(
        *(
            {"msgId": f"m-{offset + i}", "channel": "RCS", "status": "delivered", "timestamp": 1767000000 + i}
            for i in range(n)
        )
    )
    started = time.perf_counter()
    response = post(client, provider, raw)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200 and response.json()["processed"] == n
    return elapsed


def test_storage_time_grows_linearly_with_events(client, generic):
    _store_seconds(client, generic, 200, 0)  # warm-up
    small = min(_store_seconds(client, generic, 1000, 10_000 + k * 1000) for k in range(2))
    big = _store_seconds(client, generic, 8000, 100_000)
    # 8x the events: linear is ~8x; the quadratic statement took well over 20x on PostgreSQL.
    assert big < small * 16 + 0.5, (small, big)
    assert ProviderEvent.objects.count() == 200 + 2000 + 8000


def test_unusable_records_are_answered_partial_with_the_record(client, generic):
    make_message(generic, msg_id="m-1")
    raw = statuses(
        {"msgId": "m-1", "channel": "RCS", "status": "delivered"},
        {"msgId": "m-1", "channel": "RCS", "status": "bounced"},
        {"channel": "RCS", "status": "read"},
        {"msgId": "m-1", "channel": "FAX", "status": "read"},
    )
    response = post(client, generic, raw)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["status"], answer["processed"]) == ("partial", 1)
    errors = [u["error"] for u in answer["unprocessed"]]
    assert len(errors) == 3
    assert "bounced" in errors[0] and "msgId" in errors[1] and "FAX" in errors[2]
    assert [u["record"].get("status") for u in answer["unprocessed"]] == ["bounced", "read", "read"]
    assert list(ProviderEvent.objects.values_list("status", flat=True)) == ["delivered"]


# -- WIRE.md 3 "Replay window" ----------------------------------------------------------------------
SECRET = "hmac-secret-1"


@pytest.fixture
def signed(db):
    from providers import callbacks

    callbacks._providers.clear()
    provider = make_provider(kind="generic_rcs", callback_hmac_secrets=[SECRET])
    make_message(provider, msg_id="m-1")
    return provider


def _signed_post(client, provider, raw, *, ts=None, secret=SECRET):
    from providers.callbacks import sign_body

    headers = {"X-RCS-Signature": sign_body(raw, secret, ts)}
    if ts is not None:
        headers["X-RCS-Timestamp"] = str(ts)
    return post(client, provider, raw, **headers)


ONE = statuses({"msgId": "m-1", "channel": "RCS", "status": "delivered"})


@pytest.mark.usefixtures("clean_cache")
def test_timestamped_signature_covers_timestamp_and_body(client, signed):
    now = int(time.time())
    assert _signed_post(client, signed, ONE, ts=now).status_code == 200
    # The body signed alone, sent with a timestamp: refused.
    from providers.callbacks import sign_body

    response = post(
        client, signed, ONE, **{"X-RCS-Signature": sign_body(ONE, SECRET), "X-RCS-Timestamp": str(now)}
    )
    assert response.status_code == 403 and "signature" in response.json()["error"]


@pytest.mark.usefixtures("clean_cache")
@pytest.mark.parametrize("offset", [301, -301, 10_000])
def test_a_timestamp_outside_the_window_is_refused_with_json(client, signed, offset):
    response = _signed_post(client, signed, ONE, ts=int(time.time()) + offset)
    assert response.status_code == 403
    assert response.json()["status"] == "error" and "300 s" in response.json()["error"]
    assert not CallbackLog.objects.exists()


@pytest.mark.usefixtures("clean_cache")
def test_the_tolerance_is_a_setting_and_malformed_timestamps_are_refused(client, signed, settings):
    settings.RCS_CALLBACK_TIMESTAMP_TOLERANCE = 1000
    assert _signed_post(client, signed, ONE, ts=int(time.time()) - 900).status_code == 200
    response = post(client, signed, ONE, **{"X-RCS-Signature": "sha256=00", "X-RCS-Timestamp": "soon"})
    assert response.status_code == 403 and "malformed" in response.json()["error"]


@pytest.mark.usefixtures("clean_cache")
def test_a_provider_can_require_the_timestamp(client, signed):
    assert _signed_post(client, signed, ONE).status_code == 200  # not required: works as before
    signed.callback_require_timestamp = True
    signed.save()
    from providers import callbacks

    callbacks._providers.clear()
    other = statuses({"msgId": "m-1", "channel": "RCS", "status": "read"})
    response = _signed_post(client, signed, other)
    assert response.status_code == 403 and "X-RCS-Timestamp" in response.json()["error"]
    assert _signed_post(client, signed, other, ts=int(time.time())).status_code == 200


@pytest.mark.usefixtures("clean_cache")
def test_a_replayed_signed_callback_stores_one_log_row(client, signed):
    now = int(time.time())
    for _ in range(3):
        response = _signed_post(client, signed, ONE, ts=now)
        assert response.status_code == 200 and response.json()["status"] == "success"
    assert CallbackLog.objects.count() == 1
    assert ProviderEvent.objects.count() == 1
    assert _signed_post(client, signed, ONE, ts=now + 1).status_code == 200  # a new timestamp: a new callback
    assert CallbackLog.objects.count() == 2


def test_jiocx_events_without_message_id_or_of_unknown_type_are_unprocessed(client):
    provider = make_provider(kind="jiocx", config={"base_url": "https://api.jiocx.example.com/"})
    make_message(provider, msg_id="m-6")
    body = json.dumps(
        [
            {"entity": {"eventType": "DELIVERED", "messageId": "m-6"}},
            {"entity": {"eventType": "DELIVERED"}},
            {"entity": {"eventType": "TELEPORTED", "messageId": "m-6"}},
        ]
    ).encode()
    answer = post(client, provider, body).json()
    assert (answer["status"], answer["processed"]) == ("partial", 1)
    assert len(answer["unprocessed"]) == 2 and "teleported" in answer["unprocessed"][1]["error"]
