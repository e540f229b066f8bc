"""The callback endpoint: token + optional HMAC / Basic, raw body stored first, WIRE.md 3 answers."""

from __future__ import annotations

import base64
import json
from unittest import mock

import pytest
from django.db import DatabaseError, connection
from django.db.backends.utils import CursorWrapper
from django.urls import reverse

from campaigns.models import Message
from providers.callbacks import SIGNATURE_HEADER, sign_body
from providers.models import CallbackLog, ProviderEvent
from tests.api.factories import make_message

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sync_tasks")]


def post(client, provider, body, **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = reverse("callback", args=[provider.callback_token])
    return client.post(url, data=raw, content_type="application/json", headers=headers)


def delivered(msg_id, ts=1_767_000_000):
    return {"events": [{"msgId": msg_id, "status": "delivered", "ts": ts}]}


def test_stores_raw_body_then_events_and_applies_them(client, double_provider):
    message = make_message(double_provider, msg_id="m-1")
    body = {"events": [{"msgId": "m-1", "status": "sent"}, {"msgId": "m-1", "status": "read"}]}
    response = post(client, double_provider, body)
    assert response.status_code == 200
    assert response.json() == {"status": "success", "processed": 2, "unprocessed": []}
    log = CallbackLog.objects.get()
    assert json.loads(log.body) == body and log.processed_at and log.event_count == 2
    assert list(ProviderEvent.objects.values_list("status", "applied", "callback_id")) == [
        ("sent", True, log.pk),
        ("read", True, log.pk),
    ]
    message.refresh_from_db()
    assert message.status == "read" and message.delivered_at and message.read_at


def test_the_same_body_twice_stores_each_event_once(client, double_provider):
    make_message(double_provider, msg_id="m-1")
    for _ in range(2):
        assert post(client, double_provider, delivered("m-1")).status_code == 200
    assert CallbackLog.objects.count() == 2  # every body is kept
    assert ProviderEvent.objects.count() == 1


def test_unknown_token_is_refused_and_nothing_stored(client, double_provider):
    response = client.post("/callbacks/not-a-token/", data=b"{}", content_type="application/json")
    assert response.status_code == 403
    assert not CallbackLog.objects.exists()


def test_unknown_shape_is_400_and_the_body_is_kept(client, double_provider):
    response = post(client, double_provider, {"something": "else"})
    assert response.status_code == 400
    assert response.json()["status"] == "error" and "expected" in response.json()["error"]
    log = CallbackLog.objects.get()
    assert log.error.startswith("unrecognised callback") and log.processed_at


def test_body_that_is_not_json_is_400(client, double_provider):
    response = post(client, double_provider, b"status=delivered&msgId=1")
    assert response.status_code == 400 and "not JSON" in response.json()["error"]
    assert CallbackLog.objects.get().body == "status=delivered&msgId=1"


def test_invalid_records_make_a_partial_answer(client, double_provider):
    body = {"events": [{"msgId": "m-1", "status": "delivered"}, {"msgId": "m-2", "status": "exploded"}]}
    response = post(client, double_provider, body)
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "partial" and data["processed"] == 1
    assert data["unprocessed"][0]["code"] == "invalid_event"
    assert "exploded" in data["unprocessed"][0]["error"]
    assert data["unprocessed"][0]["record"]["msg_id"] == "m-2"


def test_store_failure_is_503_so_the_vendor_retries(client, double_provider):
    execute = CursorWrapper.execute

    def events_insert_fails(self, sql, params=None):
        if "providers_providerevent" in sql and "INSERT" in sql:
            raise DatabaseError("disk full")
        return execute(self, sql, params)

    with mock.patch.object(CursorWrapper, "execute", events_insert_fails):
        response = post(client, double_provider, delivered("m-1"))
    assert response.status_code == 503
    # Body and events are written together: nothing half-written, the vendor's retry stores both.
    assert not CallbackLog.objects.exists() and not ProviderEvent.objects.exists()


def test_a_database_error_leaves_the_callers_transaction_usable(client, double_provider):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's INSERT OR IGNORE skips a NOT NULL violation instead of failing")
    with mock.patch("providers.callbacks.dedupe_key", return_value=None):  # NOT NULL violation
        response = post(client, double_provider, delivered("m-1"))
    assert response.status_code == 503
    assert not CallbackLog.objects.exists() and not ProviderEvent.objects.exists()


def test_apply_failure_still_answers_200_and_keeps_events_pending(client, double_provider, caplog):
    make_message(double_provider, msg_id="m-1")
    with mock.patch("campaigns.events._apply", side_effect=RuntimeError("bug")):
        response = post(client, double_provider, delivered("m-1"))
    assert response.status_code == 200
    assert ProviderEvent.objects.get().applied is False
    assert "could not be applied; it stays pending" in caplog.text


def test_put_is_accepted_like_post(client, double_provider):
    url = reverse("callback", args=[double_provider.callback_token])
    response = client.put(url, data=json.dumps(delivered("m-9")), content_type="application/json")
    assert response.status_code == 200


# -- HMAC ------------------------------------------------------------------------------------------
@pytest.fixture
def hmac_provider(double_provider):
    double_provider.callback_hmac_secrets = ["new-secret", "old-secret"]
    double_provider.save()
    return double_provider


@pytest.mark.parametrize("secret", ["new-secret", "old-secret"])
def test_hmac_either_secret_during_rotation_is_accepted(client, hmac_provider, secret):
    make_message(hmac_provider, msg_id="m-1")
    raw = json.dumps(delivered("m-1")).encode()
    response = post(client, hmac_provider, raw, **{SIGNATURE_HEADER: sign_body(raw, secret)})
    assert response.status_code == 200
    assert Message.objects.get(msg_id="m-1").status == "delivered"


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "md5=abc",
        "sha256=" + "0" * 64,
        "signed-with-a-wrong-secret",
        "tampered-body",
    ],
)
def test_hmac_mismatch_is_403_and_nothing_is_applied(client, hmac_provider, signature):
    message = make_message(hmac_provider, msg_id="m-1")
    raw = json.dumps(delivered("m-1")).encode()
    headers = {}
    if signature == "signed-with-a-wrong-secret":
        headers[SIGNATURE_HEADER] = sign_body(raw, "guess")
    elif signature == "tampered-body":
        headers[SIGNATURE_HEADER] = sign_body(raw, "new-secret")
        raw = raw.replace(b"delivered", b"read")
    elif signature is not None:
        headers[SIGNATURE_HEADER] = signature
    response = post(client, hmac_provider, raw, **headers)
    assert response.status_code == 403
    assert response.json()["status"] == "error"
    assert not CallbackLog.objects.exists() and not ProviderEvent.objects.exists()
    message.refresh_from_db()
    assert message.status == "queued" and not message.delivered_at


def test_hmac_compare_is_constant_time(client, hmac_provider):
    raw = json.dumps(delivered("m-1")).encode()
    with mock.patch("providers.callbacks.hmac.compare_digest", return_value=False) as compare:
        response = post(client, hmac_provider, raw, **{SIGNATURE_HEADER: sign_body(raw, "new-secret")})
    assert response.status_code == 403
    assert compare.call_count == 2  # every secret is compared, with the constant-time compare


# -- Basic -----------------------------------------------------------------------------------------
@pytest.fixture
def basic_provider(double_provider):
    double_provider.callback_basic_credentials = [
        {"username": "vendor", "password": "pass-one"},
        "vendor:pass-two",
    ]
    double_provider.save()
    return double_provider


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("password", ["pass-one", "pass-two"])
def test_basic_any_configured_credential_is_accepted(client, basic_provider, password):
    response = post(client, basic_provider, delivered("m-1"), Authorization=basic("vendor", password))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header", [None, "Bearer x", "Basic !!!", basic("vendor", "wrong"), basic("other", "pass-one")]
)
def test_basic_wrong_or_missing_is_403(client, basic_provider, header):
    headers = {"Authorization": header} if header else {}
    response = post(client, basic_provider, delivered("m-1"), **headers)
    assert response.status_code == 403
    assert not CallbackLog.objects.exists()


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "*/*", ""])
def test_any_accept_header_is_answered_in_json_and_the_body_stored(client, double_provider, accept):
    headers = {"Accept": accept} if accept else {}
    response = post(client, double_provider, delivered("m-1"), **headers)
    assert response.status_code == 200  # not 406: the vendor would retry a body we never stored
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "success", "processed": 1, "unprocessed": []}
    assert CallbackLog.objects.count() == 1


def test_a_callback_does_not_load_a_session(client, double_provider):
    response = post(client, double_provider, delivered("m-1"))
    assert response.status_code == 200
    assert "Cookie" not in response.get("Vary", "")  # the session was never read


def test_callback_url_needs_no_login_and_no_csrf(double_provider):
    from tests.stack import StackClient

    client = StackClient(enforce_csrf_checks=True)
    assert post(client, double_provider, delivered("m-1")).status_code == 200
