"""Providers API: CRUD, secrets write-only, config checked against the kind's fields, roles."""

from __future__ import annotations

import json

import pytest

from providers.models import Provider
from tests.api.factories import make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback_vendor(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]


URL = "/api/providers/"


def generic(**kw) -> dict:
    body = {
        "kind": "generic_rcs",
        "nickname": "Acme BSP",
        "sender_id": "acme",
        "config": {
            "endpoint": "http://127.0.0.1:9/rcs",
            "method": "POST",
            "auth_type": "basic",
            "username": "acme",
            "headers": [{"name": "X-Team", "value": "growth"}],
        },
        "secrets": {"password": "s3cret-pass"},
    }
    body.update(kw)
    return body


def test_create_stores_secret_encrypted_and_never_returns_it(api):
    response = api.post(URL, generic(), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert "secrets" not in data and "s3cret-pass" not in json.dumps(data)
    assert data["secrets_set"] == ["password"]
    assert data["callback_url"].endswith("/") and "/callbacks/" in data["callback_url"]
    provider = Provider.objects.get(pk=data["id"])
    assert provider.secrets == {"password": "s3cret-pass"}
    assert provider.config["headers"] == [{"name": "X-Team", "value": "growth"}]
    for url in (URL, f"{URL}{provider.pk}/"):
        assert "s3cret-pass" not in api.get(url).content.decode()


def test_blank_secret_keeps_the_stored_one_and_a_new_one_replaces_it(api):
    pk = api.post(URL, generic(), format="json").json()["id"]
    response = api.patch(f"{URL}{pk}/", {"secrets": {"password": ""}, "sender_id": "acme2"}, format="json")
    assert response.status_code == 200, response.json()
    assert Provider.objects.get(pk=pk).secrets == {"password": "s3cret-pass"}
    api.patch(f"{URL}{pk}/", {"secrets": {"password": "rotated"}}, format="json")
    provider = Provider.objects.get(pk=pk)
    assert provider.secrets == {"password": "rotated"} and provider.sender_id == "acme2"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "nope"}, "kind"),
        ({"config": {"endpoint": "not a url", "method": "POST", "auth_type": "none"}}, "config.endpoint"),
        ({"config": {"endpoint": "http://10.0.0.7/rcs", "auth_type": "none"}}, "config.endpoint"),
        (
            {"config": {"endpoint": "http://127.0.0.1/x", "auth_type": "basic"}, "secrets": {}},
            "config.username",
        ),
        ({"config": {"endpoint": "http://127.0.0.1/x", "auth_type": "oauth2"}}, "secrets.client_secret"),
        ({"sms_fallback": True}, "sms_sender_id"),
        ({"india": True}, "principal_entity_id"),
        (
            {"config": {"endpoint": "https://x.example", "method": "GET", "auth_type": "none"}},
            "config.method",
        ),
        ({"config": {"endpoint": "https://x.example", "surprise": 1}}, "config.surprise"),
        ({"config": {"endpoint": "https://x.example", "headers": "X: y"}}, "config.headers"),
        ({"secrets": {"api_key": "k"}}, "secrets.api_key"),
        ({"max_rate": 5000}, "max_rate"),
        ({"concurrency": 0}, "concurrency"),
        ({"nickname": ""}, "nickname"),
        ({"dlt_template_ids": ["12ab"]}, "dlt_template_ids"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, change, field):
    response = api.post(URL, generic(**change), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Provider.objects.exists()


def test_duplicate_nickname_is_refused(api):
    make_provider(nickname="Acme BSP")
    response = api.post(URL, generic(), format="json")
    assert response.status_code == 400 and "nickname" in response.json()


def test_mark_default_keeps_exactly_one(api):
    a, b = make_provider(is_default=True), make_provider()
    response = api.post(f"{URL}{b.pk}/mark-default/")
    assert response.status_code == 200 and response.json()["is_default"] is True
    assert list(Provider.objects.filter(is_default=True)) == [b]
    a.refresh_from_db()
    assert not a.is_default


def test_kind_cannot_change_and_delete_in_use_is_a_conflict(api):
    from tests.api.factories import make_campaign

    campaign = make_campaign()
    provider = campaign.provider
    response = api.patch(f"{URL}{provider.pk}/", {"kind": "jiocx"}, format="json")
    assert response.status_code == 200 and Provider.objects.get(pk=provider.pk).kind == "generic_rcs"
    response = api.delete(f"{URL}{provider.pk}/")
    assert response.status_code == 409 and campaign.name in response.json()["detail"]
    response = api.post(f"{URL}{provider.pk}/archive/")
    assert response.status_code == 200 and response.json()["archived_at"] and not response.json()["enabled"]
    assert response.json()["stopped_campaigns"] == []
    assert api.post(f"{URL}{provider.pk}/enable/").status_code == 409
    unused = make_provider()
    assert api.delete(f"{URL}{unused.pk}/").status_code == 204


def test_anonymous_gets_401_json_and_support_can_only_read(client, support_api):
    response = client.get(URL)
    assert response.status_code in (401, 403) and response["Content-Type"].startswith("application/json")
    make_provider()
    assert support_api.get(URL).status_code == 200
    assert support_api.post(URL, generic(), format="json").status_code == 403


def test_non_json_and_nul_bodies_are_refused(api):
    assert api.post(URL, "nickname=x", content_type="application/x-www-form-urlencoded").status_code == 415
    response = api.post(URL, generic(nickname="bad\x00name"), format="json")
    assert response.status_code == 400


def test_token_endpoint(client, marketer):
    response = client.post(
        "/api/token/",
        {"username": "marketer", "password": "correct-horse-9"},
        content_type="application/json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert client.get(URL, HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    wrong = client.post(
        "/api/token/", {"username": "marketer", "password": "x"}, content_type="application/json"
    )
    assert wrong.status_code == 401
    assert "credentials" in wrong.json()["detail"]
