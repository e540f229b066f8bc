"""The published Generic RCS contract: served at /contract/, and what we send and accept fits it."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from providers.kinds.generic_rcs import GenericRcsKind
from rcsconnect.contract import load
from tests.providers.payloads import CONTENT_FIXTURES, FIXTURES, fixture, payload_message, payload_provider


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = load(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.django_db
def test_schemas_are_served_publicly(client):
    index = client.get("/contract/").json()
    assert {s["name"] for s in index["schemas"]} == {"generic-rcs-outbound", "callback-status"}
    for entry in index["schemas"]:
        response = client.get(entry["url"])
        assert response.status_code == 200 and response["Content-Type"] == "application/schema+json"
        assert response.json()["$schema"].startswith("https://json-schema.org/")
    assert client.get("/contract/nope.schema.json").status_code == 404


@pytest.mark.parametrize("name", CONTENT_FIXTURES)
def test_every_generic_rcs_request_we_build_fits_the_outbound_schema(name):
    kind = GenericRcsKind(payload_provider("generic_rcs"))
    request = kind.build_request(payload_message(fixture("generic_rcs", name)))
    errors = [e.message for e in validator("generic-rcs-outbound").iter_errors(request.json)]
    assert errors == []


def test_outbound_schema_refuses_what_the_wire_rules_forbid():
    kind = GenericRcsKind(payload_provider("generic_rcs"))
    good = kind.build_request(payload_message(fixture("generic_rcs", "carousel"))).json
    v = validator("generic-rcs-outbound")
    for mutate in (
        lambda b: b.pop("msgId"),
        lambda b: b.update(msgId="x" * 61),
        lambda b: b.update(to="919812345678"),
        lambda b: b["rcsContent"]["content"].update(cards=b["rcsContent"]["content"]["cards"][:1]),
        lambda b: b["rcsContent"]["content"].update(type="VIDEO"),
    ):
        bad = copy.deepcopy(good)
        mutate(bad)
        assert not v.is_valid(bad)


def test_callback_schema_accepts_the_status_batch_fixture_except_the_unknown_status():
    import json

    body = json.loads((FIXTURES / "callbacks" / "generic_status_batch.json").read_text())
    v = validator("callback-status")
    bad = [list(e.absolute_path) for e in v.iter_errors(body)]
    unknown = [i for i, s in enumerate(body["statuses"]) if s["status"] == "teleported"]
    assert {tuple(p[:2]) for p in bad} == {("statuses", i) for i in unknown}
    body["statuses"] = [s for s in body["statuses"] if s["status"] != "teleported"]
    assert v.is_valid(body)
