"""The OpenAPI schema and the API docs pages are served locally (no CDN) and need a login."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_schema_and_docs(marketer_client):
    from django.test import Client

    anonymous = Client()
    assert anonymous.get("/api/schema/").status_code in (401, 403)
    assert anonymous.get("/api/docs/").status_code == 302
    schema = marketer_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert {"/api/send/", "/api/providers/{id}/", "/api/campaigns/{id}/launch/"} <= set(schema["paths"])
    send = schema["paths"]["/api/send/"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in send["parameters"])
    for url in ("/api/docs/", "/api/redoc/"):
        html = marketer_client.get(url).content.decode()
        assert "/static/drf_spectacular_sidecar/" in html and "cdn." not in html and "unpkg" not in html
