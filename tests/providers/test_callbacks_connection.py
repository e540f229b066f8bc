"""A database connection dropped under a callback (no per-request health check): one 503, then stored."""

from __future__ import annotations

import json

import pytest
from django.db import close_old_connections, connection, connections
from django.urls import reverse

from providers.models import CallbackLog
from tests.postgresql import postgresql_only

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("sync_tasks"),
]


needs_postgres = postgresql_only("needs a PostgreSQL server that can drop our connection")


def post(client, provider, msg_id):
    body = json.dumps({"events": [{"msgId": msg_id, "status": "delivered"}]})
    url = reverse("callback", args=[provider.callback_token])
    return client.post(url, data=body, content_type="application/json")


def drop_our_connection() -> None:
    """The server ends this process's connection (what a restart or failover does to it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()


@pytest.mark.parametrize("provider_cached", [True, False])
def test_a_dropped_connection_answers_503_once_then_callbacks_are_stored(
    client, double_provider, settings, monkeypatch, provider_cached
):
    assert not settings.DATABASES["default"]["CONN_HEALTH_CHECKS"]  # the default under test
    assert post(client, double_provider, "d-1").status_code == 200
    if not provider_cached:
        monkeypatch.setattr("providers.callbacks._providers", {})  # the lookup meets the dead connection
    drop_our_connection()
    response = post(client, double_provider, "d-2")
    assert response.status_code == 503  # not stored: the vendor retries
    assert response.json()["status"] == "error"
    # At the end of a request Django closes a connection that had an error and fails its check
    # (Django's test client leaves this signal receiver out, so it is called here).
    close_old_connections()
    assert post(client, double_provider, "d-2").status_code == 200
    assert sorted(
        json.loads(b)["events"][0]["msgId"] for b in CallbackLog.objects.values_list("body", flat=True)
    ) == [
        "d-1",
        "d-2",
    ]
