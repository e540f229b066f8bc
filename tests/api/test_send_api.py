"""POST /api/send/: one message from a template, idempotent by Idempotency-Key, through the engine."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from campaigns import services
from campaigns.models import Message
from tests.api.factories import make_provider, make_template

pytestmark = pytest.mark.django_db
URL = "/api/send/"


@pytest.fixture
def template(simulator):
    simulator.configure(callbacks=False)
    provider = make_provider(
        config={"endpoint": f"{simulator.url}/generic/messages", "method": "POST", "auth_type": "none"}
    )
    return make_template(
        provider, content={"type": "TEXT", "text": "Order {{1}} ships {{2}}"}, sample_values=["A-1", "today"]
    )


def test_send_renders_the_template_and_the_engine_sends_it(
    api, template, simulator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        response = api.post(
            URL,
            {"template": template.pk, "to": "+91 98123 45678", "values": ["A-17", "tomorrow"]},
            format="json",
        )
    assert response.status_code == 202, response.json()
    data = response.json()
    assert data["to"] == "+919812345678" and data["status"] == "queued" and data["campaign"] is None
    assert data["content"]["text"] == "Order A-17 ships tomorrow"
    services.dispatch_run(provider_id=template.provider_id, budget=3)
    assert api.get(f"/api/messages/{data['id']}/").json()["status"] == "sent"
    sent = [r["json"] for r in simulator.requests() if r["path"] == "/generic/messages"]
    assert len(sent) == 1 and sent[0]["msgId"] == data["msg_id"]
    assert sent[0]["rcsContent"]["content"]["text"] == "Order A-17 ships tomorrow"


def test_same_idempotency_key_never_sends_twice(api, template):
    body = {"template": template.pk, "to": "+919812345678", "values": ["A-17", "today"]}
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-A-17")
    again = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-A-17")
    assert first.status_code == 202 and again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json()["msg_id"] == first.json()["msg_id"]
    other = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="order-A-18")
    assert other.status_code == 202 and other.json()["msg_id"] != first.json()["msg_id"]
    no_key = [api.post(URL, body, format="json").json()["msg_id"] for _ in range(2)]
    assert no_key[0] != no_key[1]
    assert Message.objects.count() == 4


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"to": "12345"}, "to"),
        ({"values": ["only one"]}, "values"),
        ({"template": 999999}, "template"),
        ({"values": "A-17"}, "values"),
    ],
)
def test_bad_input_names_the_field(api, template, change, field):
    body = {"template": template.pk, "to": "+919812345678", "values": ["A-17", "today"], **change}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Message.objects.exists()


def test_template_of_another_provider_and_long_key(api, template):
    other = make_provider()
    body = {"template": template.pk, "provider": other.pk, "to": "+919812345678", "values": ["a", "b"]}
    assert "template" in api.post(URL, body, format="json").json()
    body.pop("provider")
    response = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k" * 121)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()


def test_support_cannot_send(support_api, template):
    body = {"template": template.pk, "to": "+919812345678", "values": ["a", "b"]}
    assert support_api.post(URL, body, format="json").status_code == 403


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_message(api, template):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent requests need PostgreSQL row locking")
    body = {"template": template.pk, "to": "+919812345678", "values": ["a", "b"]}
    codes = []

    def post():
        codes.append(api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="race-1").status_code)
        connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Message.objects.filter(idempotency_key="race-1").count() == 1
    assert all(code in (200, 202) for code in codes)
