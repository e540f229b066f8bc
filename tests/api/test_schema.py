"""The OpenAPI schema says what the server answers: errors with bodies, strict parameters, typed shapes."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from providers.kinds import registry
from templates_app import limits
from tests.api.factories import make_audience, make_provider

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def _op(document, path, method):
    return document["paths"][path][method]


def test_every_operation_documents_its_errors(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert "401" in codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            for code in codes - {"200", "201", "202", "204"}:
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema["$ref"].rsplit("/", 1)[1] in ("ValidationErrors", "Detail", "Conflict")
            if "requestBody" in operation:
                assert list(operation["requestBody"]["content"]) == ["application/json"], (method, path)


def test_conflicts_token_and_idempotency_are_documented(document):
    assert "409" in _op(document, "/api/providers/{id}/", "delete")["responses"]
    assert "409" in _op(document, "/api/campaigns/{id}/launch/", "post")["responses"]
    token = _op(document, "/api/token/", "post")["responses"]
    assert {"200", "400", "401", "429"} <= set(token)
    send = _op(document, "/api/send/", "post")
    (key,) = [p for p in send["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header" and key["schema"]["maxLength"] == 120
    assert "Idempotent-Replayed" in send["responses"]["200"]["headers"]
    assert "delete" in document["paths"]["/api/templates/{id}/"]
    assert "200" in _op(document, "/api/templates/{id}/", "delete")["responses"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}


def test_lists_are_bounded_and_posts_unpaged(document):
    (limit,) = [p for p in _op(document, "/api/audiences/", "get")["parameters"] if p["name"] == "limit"]
    assert limit["schema"]["maximum"] == 500
    posted = _op(document, "/api/audiences/{id}/contacts/", "post")
    assert not {p["name"] for p in posted.get("parameters", [])} & {"limit", "offset"}
    assert posted["responses"]["201"]["content"]["application/json"]["schema"]["type"] == "array"


def test_shapes_come_from_the_rules(document):
    schemas = document["components"]["schemas"]
    content = schemas["TemplateRequest"]["properties"]["content"]
    text = next(b for b in content["oneOf"] if b["title"] == "TEXT")
    assert text["properties"]["text"]["maxLength"] == limits.TEXT_MAX and "text" in text["required"]
    carousel = next(b for b in content["oneOf"] if b["title"] == "CAROUSEL")
    assert carousel["properties"]["cards"]["maxItems"] == limits.CAROUSEL_MAX
    config = schemas["ProviderRequest"]["properties"]["config"]["anyOf"]
    assert {b["x-kind"] for b in config} == {slug for slug, _ in registry.choices()}
    generic = next(b for b in config if b["x-kind"] == "generic_rcs")
    assert {"endpoint", "auth_type", "username"} <= set(generic["properties"])


@pytest.mark.parametrize(
    "query, name",
    [
        ("offset=null", "offset"),
        ("limit=true", "limit"),
        ("limit=128589870872732467200", "limit"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("offset=-1", "offset"),
    ],
)
def test_bad_page_parameters_answer_400_naming_them(api, query, name):
    make_audience()
    response = api.get(f"/api/audiences/?{query}")
    assert response.status_code == 400, response.content
    assert name in response.json()


def test_bad_filters_answer_400(api):
    audience = make_audience()
    assert "subscribed" in api.get(f"/api/audiences/{audience.pk}/contacts/?subscribed=maybe").json()
    assert "status" in api.get("/api/campaigns/?status=nonsense").json()
    provider = make_provider()
    assert "since" in api.get(f"/api/providers/{provider.pk}/stats/?since=yesterday").json()
    assert api.get(f"/api/providers/{provider.pk}/stats/?since=2026-01-01T00:00:00Z").status_code == 200


def test_json_types_are_strict(api):
    response = api.post("/api/audiences/", {"name": "A", "description": 0}, format="json")
    assert response.status_code == 400 and "description" in response.json()
    created = api.post("/api/audiences/", {"name": "A", "description": ""}, format="json")
    assert created.status_code == 201 and created.json()["contact_count"] == 0


def test_template_content_of_the_wrong_shape_names_the_path(api):
    provider = make_provider()
    response = api.post(
        "/api/templates/",
        {"provider": provider.pk, "name": "t1", "language": "en", "content": {"type": "TEXT", "text": 5}},
        format="json",
    )
    assert response.status_code == 400
    assert "text" in response.json()["content"]
