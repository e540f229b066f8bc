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
