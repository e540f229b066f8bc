"""Callback HMAC and Basic credentials set through the API: write-only (only their count is read back)
and enforced on the provider's callback URL at once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from django.test import Client

from providers import callbacks

pytestmark = pytest.mark.django_db
URL = "/api/providers/"


@pytest.fixture(autouse=True)
def loopback_vendor(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]


def body(**kw) -> dict:
    return {
        "kind": "generic_rcs",
        "nickname": "Acme BSP",
        "sender_id": "acme",
        "config": {"endpoint": "http://127.0.0.1:9/rcs", "method": "POST", "auth_type": "none"},
        **kw,
    }


def callback(url: str, *, secret: str | None = None, basic: tuple[str, str] | None = None) -> int:
    raw = json.dumps({"statuses": [{"msgId": "nope-1", "status": "delivered"}]}).encode()
    headers = {}
    if secret:
        headers["HTTP_X_RCS_SIGNATURE"] = (
            "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        )
    if basic:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(":".join(basic).encode()).decode()
    return Client().post(url, data=raw, content_type="application/json", **headers).status_code


def test_callback_credentials_are_write_only_and_enforced(api):
    response = api.post(
        URL,
        body(
            callback_hmac_secret="hmac-one", callback_basic_username="vendor", callback_basic_password="pw-1"
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["callback_checks"] == {"hmac_secrets": 1, "basic_credentials": 1}
    for read in (
        json.dumps(data),
        api.get(f"{URL}{data['id']}/").content.decode(),
        api.get(URL).content.decode(),
    ):
        assert "hmac-one" not in read and "pw-1" not in read
    url = data["callback_url"]
    assert callback(url, secret="hmac-one", basic=("vendor", "pw-1")) == 200
    assert callback(url, secret="wrong", basic=("vendor", "pw-1")) in (401, 403)
    assert callback(url, secret="hmac-one", basic=("vendor", "nope")) in (401, 403)

    off = api.patch(f"{URL}{data['id']}/", {"callback_checks_off": True}, format="json")
    assert off.status_code == 200, off.json()
    assert off.json()["callback_checks"] == {"hmac_secrets": 0, "basic_credentials": 0}
    getattr(callbacks, "_providers", {}).clear()  # the callback view's per-process provider cache (5 s)
    assert callback(url) == 200
