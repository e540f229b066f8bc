"""Header secrets: marked or secret by name, write-only, encrypted at rest, masked on every surface."""

from __future__ import annotations

import importlib
import json

import pytest
from django.db import connection

from providers.headers import header_is_secret, headers_resolved, headers_store
from providers.models import Provider
from providers.sending import masked

pytestmark = pytest.mark.django_db
URL = "/api/providers/"
TOKEN = "tok-9f8e7d6c5b4a"
TENANT = "tenant-77aa88bb"


@pytest.fixture(autouse=True)
def loopback_vendor(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]


def body(headers):
    return {
        "kind": "generic_rcs",
        "nickname": "Header BSP",
        "sender_id": "acme",
        "config": {
            "endpoint": "http://127.0.0.1:9/rcs",
            "method": "POST",
            "auth_type": "none",
            "headers": headers,
        },
    }


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("Authorization", True),
        ("X-Api-Key", True),
        ("X-APIKEY", True),
        ("X-Api-Token", True),
        ("X-Client-Secret", True),
        ("X-Team", False),
        ("Accept-Language", False),
    ],
)
def test_secret_by_name(name, secret):
    assert header_is_secret(name) is secret


def test_api_header_secrets_are_write_only_encrypted_and_sent(api):
    headers = [
        {"name": "X-Api-Token", "value": TOKEN},
        {"name": "X-Tenant", "value": TENANT, "secret": True},
        {"name": "X-Team", "value": "growth"},
    ]
    response = api.post(URL, body(headers), format="json")
    assert response.status_code == 201, response.json()
    provider = Provider.objects.get(pk=response.json()["id"])
    for url in (URL, f"{URL}{provider.pk}/"):
        text = api.get(url).content.decode()
        assert TOKEN not in text and TENANT not in text and "growth" in text
    assert provider.config["headers"] == [
        {"name": "X-Api-Token", "value": "", "secret": True},
        {"name": "X-Tenant", "value": "", "secret": True},
        {"name": "X-Team", "value": "growth"},
    ]
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT config, secrets FROM providers_provider WHERE id = %s", [provider.pk])
        raw = " ".join(str(v) for v in cursor.fetchone())
    assert TOKEN not in raw and TENANT not in raw
    sent = provider.kind_class(provider).build_request(_message()).headers
    assert (sent["X-Api-Token"], sent["X-Tenant"], sent["X-Team"]) == (TOKEN, TENANT, "growth")
    shown = masked(provider.kind_class(provider).build_request(_message()), provider.kind_class(provider))
    assert TOKEN not in json.dumps(shown) and TENANT not in json.dumps(shown)

    # A blank secret keeps the stored value; a removed header's secret is dropped.
    kept = [{"name": "X-Api-Token", "value": "", "secret": True}, {"name": "X-Team", "value": "growth"}]
    assert (
        api.patch(f"{URL}{provider.pk}/", {"config": body(kept)["config"]}, format="json").status_code == 200
    )
    provider.refresh_from_db()
    assert headers_resolved(provider.config, provider.secrets) == {"X-Api-Token": TOKEN, "X-Team": "growth"}
    assert not any("x-tenant" in key for key in provider.secrets)


def _message():
    from tests.providers.payloads import fixture, payload_message

    return payload_message(fixture("generic_rcs", "text"))


def test_edit_page_and_admin_never_show_a_header_secret(admin_client, admin_user):
    rows, secrets = headers_store([{"name": "Authorization", "value": f"Bearer {TOKEN}"}], {})
    provider = Provider.objects.create(
        kind="generic_rcs",
        nickname="Shown",
        sender_id="x",
        config={
            "endpoint": "https://vendor.example/m",
            "method": "POST",
            "auth_type": "none",
            "headers": rows,
        },
        secrets=secrets,
    )
    for url in (f"/providers/{provider.pk}/edit/", f"/admin/providers/provider/{provider.pk}/change/"):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert TOKEN not in response.content.decode(), url


def test_migration_moves_stored_secret_headers(db):
    from django.apps import apps

    provider = Provider.objects.create(
        kind="generic_rcs",
        nickname="Old",
        sender_id="x",
        config={"headers": [{"name": "X-Api-Key", "value": TOKEN}, {"name": "X-Team", "value": "growth"}]},
    )
    migration = importlib.import_module("providers.migrations.0005_header_secrets")
    migration.move_secret_headers(apps, None)
    provider.refresh_from_db()
    assert provider.config["headers"][0] == {"name": "X-Api-Key", "value": "", "secret": True}
    assert provider.secrets["header:x-api-key"] == TOKEN
    assert headers_resolved(provider.config, provider.secrets) == {"X-Api-Key": TOKEN, "X-Team": "growth"}


def test_require_timestamp_is_set_through_the_api(api):
    response = api.post(URL, {**body([]), "callback_require_timestamp": True}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["callback_require_timestamp"] is True
    assert Provider.objects.get().callback_require_timestamp
