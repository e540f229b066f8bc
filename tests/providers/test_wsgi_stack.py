"""The production WSGI application: vendor callbacks run through the short middleware stack
(rcsconnect.handlers), with every check of WIRE.md 3 still made by the view; other URLs through
settings.MIDDLEWARE."""

from __future__ import annotations

import io
import json
import time

import pytest

from providers.callbacks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_body
from providers.models import CallbackLog
from rcsconnect.handlers import CALLBACK_MIDDLEWARE
from rcsconnect.wsgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sync_tasks")]


def call(path: str, body: bytes = b"", method: str = "POST", **headers: str):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()})
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    chunks = application(environ, start_response)
    try:
        answer["body"] = b"".join(chunks)
    finally:
        chunks.close()
    return answer


@pytest.fixture
def signed_provider(double_provider):
    double_provider.callback_hmac_secrets = ["s3cret"]
    double_provider.save()
    return double_provider


def statuses(msg_id: str) -> bytes:
    # Odd spacing and key order: the stored body must be these bytes, not a re-encoding.
    return b'{"events":  [{"status":"delivered", "msgId":"%s"}] }' % msg_id.encode()


def test_a_signed_callback_is_stored_byte_for_byte_without_session_or_csrf(signed_provider):
    raw, stamp = statuses("m-1"), str(int(time.time()))
    headers = {SIGNATURE_HEADER: sign_body(raw, "s3cret", stamp), TIMESTAMP_HEADER: stamp}
    answer = call(f"/callbacks/{signed_provider.callback_token}/", raw, **headers)
    assert answer["status"] == 200, answer
    assert json.loads(answer["body"])["status"] == "success"
    assert CallbackLog.objects.get().raw_body() == raw
    assert "Set-Cookie" not in answer["headers"] and "Cookie" not in answer["headers"].get("Vary", "")
    # What guards every answer stays: nosniff, X-Frame-Options, the CSP header.
    assert answer["headers"]["X-Content-Type-Options"] == "nosniff"
    assert answer["headers"]["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in answer["headers"]
    # The same callback again within the replay window is not stored again.
    again = call(f"/callbacks/{signed_provider.callback_token}/", raw, **headers)
    assert again["status"] == 200 and json.loads(again["body"]).get("duplicate") is True
    assert CallbackLog.objects.count() == 1


@pytest.mark.parametrize("case", ["bad signature", "stale timestamp", "unknown token"])
def test_refused_callbacks_store_nothing(signed_provider, case):
    raw = statuses("m-1")
    stamp = str(int(time.time()) - (3600 if case == "stale timestamp" else 0))
    secret = "guess" if case == "bad signature" else "s3cret"
    token = "not-a-token" if case == "unknown token" else signed_provider.callback_token
    headers = {SIGNATURE_HEADER: sign_body(raw, secret, stamp), TIMESTAMP_HEADER: stamp}
    answer = call(f"/callbacks/{token}/", raw, **headers)
    assert answer["status"] == 403 and json.loads(answer["body"])["status"] == "error"
    assert not CallbackLog.objects.exists()


def test_a_body_over_the_cap_is_413_json(double_provider, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    answer = call(f"/callbacks/{double_provider.callback_token}/", b"{" + b" " * 200 + b"}")
    assert answer["status"] == 413
    assert json.loads(answer["body"])["status"] == "error"
    assert not CallbackLog.objects.exists()


def test_other_urls_keep_the_whole_stack():
    answer = call("/providers/", method="GET")
    assert answer["status"] == 302 and "/accounts/login/" in answer["headers"]["Location"]
    assert len(CALLBACK_MIDDLEWARE) < 6
