"""The OpenAPI schema says what the server answers: errors with bodies, strict parameters, typed shapes."""

from __future__ import annotations

import jsonschema
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
    for update in ("ProviderUpdateRequest", "PatchedProviderUpdateRequest"):  # no kind: an anyOf
        assert "kind" not in schemas[update]["properties"]
        config = schemas[update]["properties"]["config"]["anyOf"]
        assert {b["x-kind"] for b in config} == {slug for slug, _ in registry.choices()}
        generic = next(b for b in config if b["x-kind"] == "generic_rcs")
        assert {"endpoint", "auth_type", "username"} <= set(generic["properties"])


def test_provider_answers_and_create_body_are_a_oneof_discriminated_by_kind(document):
    schemas = document["components"]["schemas"]
    slugs = {slug for slug, _ in registry.choices()}
    names = {"generic_rcs": "GenericRcs", "jiocx": "Jiocx"}
    for base in ("Provider", "ProviderArchived", "ProviderRequest"):
        shape = schemas[base]
        mapping = shape["discriminator"]["mapping"]
        assert shape["discriminator"]["propertyName"] == "kind" and set(mapping) == slugs, base
        assert [b["$ref"] for b in shape["oneOf"]] == list(mapping.values())
        for slug, ref in mapping.items():
            branch = schemas[ref.rsplit("/", 1)[1]]
            assert branch["properties"]["kind"]["enum"] == [slug] and "kind" in branch["required"]
            assert branch["properties"]["config"]["x-kind"] == slug
            assert ("secrets" in branch["properties"]) == (base == "ProviderRequest")
        for slug, prefix in names.items():
            assert mapping[slug] == f"#/components/schemas/{prefix}{base}"
    generic = schemas["GenericRcsProviderRequest"]["properties"]
    assert {"endpoint", "auth_type", "username"} <= set(generic["config"]["properties"])
    assert set(generic["secrets"]["properties"]) == {"password", "client_secret"}
    paths = document["paths"]
    create = paths["/api/providers/"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ProviderRequest")
    for method, code in (("post", "201"), ("get", "200")):
        schema = paths["/api/providers/" if method == "post" else "/api/providers/{id}/"][method]["responses"]
        assert schema[code]["content"]["application/json"]["schema"]["$ref"].endswith("/Provider")
    put = paths["/api/providers/{id}/"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert put["$ref"].endswith("/ProviderUpdateRequest")


def _inline(node, schemas, depth=0):
    """The schema with its component $refs replaced by the components (to a bounded depth)."""
    if isinstance(node, dict):
        if "$ref" in node and depth < 8:
            return _inline(schemas[node["$ref"].rsplit("/", 1)[1]], schemas, depth + 1)
        return {key: _inline(value, schemas, depth) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, schemas, depth) for value in node]
    return node


def _one_ofs(node):
    if isinstance(node, dict):
        if "oneOf" in node:
            yield node["oneOf"]
        for value in node.values():
            yield from _one_ofs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _one_ofs(value)


def test_no_value_matches_two_branches_of_a_oneof(document):
    """A oneOf needs exactly one branch to match: `""` (a blank field's default) must not match two (the
    schemathesis finding on `principal_entity_id` and `dlt_template_id`), nor an empty object."""
    schemas = document["components"]["schemas"]
    samples = ["", {}]
    one_ofs = list(_one_ofs(document))
    assert len(one_ofs) >= 4  # template content (3), provider answers and the create body
    for branches in one_ofs:
        for sample in samples:
            matching = [
                b for b in branches if jsonschema.Draft4Validator(_inline(b, schemas)).is_valid(sample)
            ]
            assert len(matching) <= 1, (sample, matching)


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
