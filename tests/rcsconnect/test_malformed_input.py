"""Malformed input never gives a 500: client errors with a JSON reason on the API and the callbacks."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from providers import callbacks
from providers.models import CallbackLog
from tests.api.factories import make_provider

pytestmark = pytest.mark.django_db
DEEP = ("[" * 5000 + "]" * 5000).encode()
DEEP_OBJECT = ('{"a":' * 400 + "1" + "}" * 400).encode()


@pytest.fixture
def anonymous():
    return Client(raise_request_exception=False)


@pytest.fixture
def admin_client_(admin_user_):
    client = Client(raise_request_exception=False)
    client.force_login(admin_user_)
    return client


def _json_error(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response.content[:300]
    return response.json()


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["lists", "objects"])
@pytest.mark.parametrize("path", ["/api/token/", "/api/providers/", "/api/campaigns/", "/api/send/"])
def test_deeply_nested_json_is_a_client_error(anonymous, admin_client_, path, body):
    client = anonymous if path == "/api/token/" else admin_client_
    response = client.post(path, data=body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content[:300]
    assert response["Content-Type"].startswith("application/json")


def test_short_link_with_nul_is_a_404_page(anonymous):
    assert anonymous.get("/c/x%00").status_code == 404
    assert anonymous.get("/c/%C3%A9").status_code == 404


def test_non_ascii_signature_is_refused_with_json(anonymous):
    provider = make_provider(kind="generic_rcs", callback_hmac_secrets=["s3cret-value"])
    callbacks._providers.clear()
    response = anonymous.post(
        f"/callbacks/{provider.callback_token}/",
        data=b"{}",
        content_type="application/json",
        headers={"X-RCS-Signature": "sha256=\u00e9\u00e9"},
    )
    assert _json_error(response, 403)["status"] == "error"
    assert not CallbackLog.objects.exists()


@pytest.mark.parametrize("token", ["abc%00", "%C3%A9", "a" * 300, "abc%20def"])
def test_malformed_callback_token_is_a_403_with_json(anonymous, token):
    response = anonymous.post(f"/callbacks/{token}/", data=b"{}", content_type="application/json")
    assert _json_error(response, 403) == {"status": "error", "error": "unknown callback URL"}


def test_bodies_over_the_upload_limit_answer_json_413(anonymous, admin_client_, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = json.dumps({"statuses": ["x" * 2000]}).encode()
    provider = make_provider(kind="generic_rcs")
    callback = anonymous.post(
        f"/callbacks/{provider.callback_token}/", data=big, content_type="application/json"
    )
    assert "too large" in _json_error(callback, 413)["error"]
    api = admin_client_.post("/api/providers/", data=big, content_type="application/json")
    assert "too large" in _json_error(api, 413)["detail"]


def test_unknown_api_route_is_json(admin_client_):
    assert _json_error(admin_client_.get("/api/no-such-thing/"), 404)["detail"]


def test_endpoint_with_an_impossible_port_is_a_field_error(admin_client_):
    body = {
        "kind": "generic_rcs",
        "nickname": "Port",
        "sender_id": "agent",
        "config": {"endpoint": "https://vendor.example:99999/send", "method": "POST", "auth_type": "none"},
    }
    response = admin_client_.post("/api/providers/", data=json.dumps(body), content_type="application/json")
    errors = _json_error(response, 400)
    assert "port" in json.dumps(errors).lower(), errors


def test_endpoint_with_an_impossible_port_in_the_form():
    from providers.validation import check_vendor_url

    assert "port" in check_vendor_url("https://vendor.example:99999/send").lower()


def test_callback_tokens_never_reach_django_request_log_lines(anonymous):
    provider = make_provider(kind="generic_rcs")
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Keep()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        anonymous.post(
            f"/callbacks/{provider.callback_token}/", data=b"not json", content_type="application/json"
        )
        anonymous.post("/callbacks/some-guess/", data=b"{}", content_type="application/json")
    finally:
        logger.removeHandler(handler)
    assert records, "django.request logged nothing"
    assert all(provider.callback_token not in line and "some-guess" not in line for line in records), records
