"""Webhooks through the API, the dashboard and the admin: the secret is shown once and never again,
bad input is named by field, and each role may do what the roles table says."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.http import HttpRequest
from django.test import Client
from rest_framework.test import APIClient

from rcsconnect.webhooks import services
from rcsconnect.webhooks.events import emit
from rcsconnect.webhooks.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db
ALL = ["reply.received", "message.status_changed", "campaign.finished"]


def user_for(role: str) -> User:
    if role == "admin":
        return User.objects.create_superuser("boss", "b@example.com", "correct-horse-9")
    user = User.objects.create_user(role.lower(), password="correct-horse-9")
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def api(marketer) -> APIClient:
    client = APIClient()
    client.force_authenticate(marketer)
    return client


def api_for(role: str | None) -> APIClient:
    client = APIClient()
    if role:
        client.force_authenticate(user_for(role))
    return client


def test_api_create_shows_the_secret_once(api, receiver):
    response = api.post("/api/webhooks/", {"name": "CRM", "url": receiver.url, "events": ALL}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    secret = Webhook.objects.get().secret
    assert created["secret"] == secret and secret.startswith("whsec_")
    detail = api.get(f"/api/webhooks/{created['id']}/")
    listing = api.get("/api/webhooks/")
    assert "secret" not in detail.json() and secret not in detail.content.decode()
    assert secret not in listing.content.decode()
    patched = api.patch(
        f"/api/webhooks/{created['id']}/", {"secret": "mine", "is_active": False}, format="json"
    )
    assert (
        patched.status_code == 200 and "secret" not in patched.json() and patched.json()["is_active"] is False
    )
    assert Webhook.objects.get().secret == secret  # not writable
    rotated = api.post(f"/api/webhooks/{created['id']}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] == Webhook.objects.get().secret != secret


def test_api_names_bad_fields(api, receiver, stranger):
    bad = api.post("/api/webhooks/", {"name": "", "url": "ftp://x", "events": ALL}, format="json")
    assert bad.status_code == 400 and {"name", "url"} == set(bad.json())
    unknown = api.post(
        "/api/webhooks/", {"name": "x", "url": receiver.url, "events": ["nope"]}, format="json"
    )
    assert unknown.status_code == 400 and "nope" in str(unknown.json()["events"])
    private = api.post("/api/webhooks/", {"name": "x", "url": stranger.url, "events": ALL}, format="json")
    assert private.status_code == 400 and "Refused to connect" in private.json()["url"][0]
    none = api.post("/api/webhooks/", {"name": "x", "url": receiver.url, "events": []}, format="json")
    assert none.status_code == 400 and none.json()["events"] == ["Choose at least one event."]


def test_api_delivery_log_and_test_event(api, receiver, django_capture_on_commit_callbacks):
    webhook = services.webhook_create(name="CRM", url=receiver.url, events=ALL)
    emit("campaign.finished", [{"campaign_id": 7}])
    with django_capture_on_commit_callbacks():  # queued only: the log shows it pending
        response = api.post(f"/api/webhooks/{webhook.pk}/test/")
    assert response.status_code == 202 and response.json()["event"] == "webhook.test"
    log = api.get(f"/api/webhooks/{webhook.pk}/deliveries/").json()
    assert log["count"] == 2 and [d["event"] for d in log["results"]] == ["webhook.test", "campaign.finished"]
    assert webhook.secret not in str(log)


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("admin", 200, True), ("Marketer", 200, True), ("Support", 200, False), (None, 401, False)],
)
def test_api_role_matrix(receiver, role, read, write):
    webhook = services.webhook_create(name="CRM", url=receiver.url, events=ALL)
    client = api_for(role)
    denied = 401 if role is None else 403
    assert client.get("/api/webhooks/").status_code == read
    assert client.get(f"/api/webhooks/{webhook.pk}/").status_code == read
    assert client.get(f"/api/webhooks/{webhook.pk}/deliveries/").status_code == read
    body = {"name": "Other", "url": receiver.url, "events": ["campaign.finished"]}
    assert client.post("/api/webhooks/", body, format="json").status_code == (201 if write else denied)
    assert client.patch(f"/api/webhooks/{webhook.pk}/", {"name": "X"}, format="json").status_code == (
        200 if write else denied
    )
    assert client.post(f"/api/webhooks/{webhook.pk}/rotate-secret/").status_code == (200 if write else denied)
    assert client.post(f"/api/webhooks/{webhook.pk}/test/").status_code == (202 if write else denied)
    assert client.delete(f"/api/webhooks/{webhook.pk}/").status_code == (204 if write else denied)
    assert Webhook.objects.filter(pk=webhook.pk).exists() is not write


def login(role: str) -> Client:
    client = Client()
    user = user_for(role)
    assert client.login(request=HttpRequest(), username=user.username, password="correct-horse-9")
    return client


def test_dashboard_create_shows_the_secret_once_then_never(receiver, marketer_client):
    response = marketer_client.post(
        "/webhooks/new/", {"name": "CRM", "url": receiver.url, "events": ALL, "is_active": "on"}
    )
    webhook = Webhook.objects.get()
    assert response.status_code == 200 and webhook.secret in response.content.decode()
    for url in ("/webhooks/", f"/webhooks/{webhook.pk}/", f"/webhooks/{webhook.pk}/edit/"):
        page = marketer_client.get(url)
        assert page.status_code == 200 and webhook.secret not in page.content.decode()
    emit("campaign.finished", [{"campaign_id": 1}])
    sent = WebhookDelivery.objects.get()
    page = marketer_client.get(f"/webhooks/{webhook.pk}/deliveries/{sent.pk}/").content.decode()
    assert "campaign.finished" in page and webhook.secret not in page
    rotated = marketer_client.post(f"/webhooks/{webhook.pk}/rotate-secret/").content.decode()
    webhook.refresh_from_db()
    assert webhook.secret in rotated


def test_dashboard_form_errors_are_next_to_the_field(receiver, stranger, marketer_client):
    response = marketer_client.post("/webhooks/new/", {"name": "CRM", "url": stranger.url})
    html = response.content.decode()
    assert response.status_code == 200 and not Webhook.objects.exists()
    assert "Refused to connect" in html and "Choose at least one event." in html
    assert html.index('id="wrap-url"') < html.index("Refused to connect")


@pytest.mark.parametrize("role", ["Marketer", "Support", "admin"])
def test_dashboard_role_matrix(receiver, role):
    webhook = services.webhook_create(name="CRM", url=receiver.url, events=ALL)
    client = login(role)
    write = role != "Support"
    assert client.get("/webhooks/").status_code == 200
    assert client.get(f"/webhooks/{webhook.pk}/").status_code == 200
    assert client.get("/webhooks/new/").status_code == (200 if write else 403)
    assert client.post(f"/webhooks/{webhook.pk}/test/").status_code == (302 if write else 403)
    assert client.post(f"/webhooks/{webhook.pk}/rotate-secret/").status_code == (200 if write else 403)
    assert client.post(f"/webhooks/{webhook.pk}/delete/").status_code == (302 if write else 403)
    assert Webhook.objects.filter(pk=webhook.pk).exists() is not write


def test_admin_is_read_only_and_never_shows_the_secret(receiver):
    webhook = services.webhook_create(name="CRM", url=receiver.url, events=ALL)
    client = login("Support")
    page = client.get(f"/admin/webhooks/webhook/{webhook.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200 and "CRM" in html and webhook.secret not in html
    assert 'name="_save"' not in html
    assert client.get("/admin/webhooks/webhook/add/").status_code == 403
    assert client.get("/admin/webhooks/webhookdelivery/").status_code == 200
