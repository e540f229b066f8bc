"""Property-based fuzzing of the REST API from its OpenAPI schema (schemathesis, every check, positive and
negative cases): no 5xx, no undocumented status code, no response that violates the schema, no
schema-violating request accepted. Runs in-process against the WSGI app, a bounded number of examples
per operation (a few minutes for every operation)."""

from __future__ import annotations

import socket

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.api.factories import make_audience, make_campaign, make_message, make_provider, make_template

EXAMPLES = 10


def _load_schema():
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(document)
    schema.app = get_wsgi_application()
    return schema


schema = _load_schema()


@pytest.fixture
def fuzz_world(db, marketer, monkeypatch):
    """Some real records (ids 1.. are likely to exist) and a token; DNS answers at once."""
    real = socket.getaddrinfo

    def fast_getaddrinfo(host, *args, **kwargs):
        if host in ("127.0.0.1", "localhost"):
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "not resolved in tests")

    monkeypatch.setattr(socket, "getaddrinfo", fast_getaddrinfo)
    # Like Django's test client: requests must not close the test's connection (its transaction).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield_value = {"Authorization": f"Token {Token.objects.get_or_create(user=marketer)[0].key}"}
    provider = make_provider()
    campaign = make_campaign(provider, template=make_template(provider), audience=make_audience())
    make_message(provider, campaign)
    yield yield_value
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.timeout(600)
def test_api_answers_as_its_schema_says(case, fuzz_world):
    # Every check but one: a schema-valid request may still be refused (400) for what a schema cannot
    # say, such as an id that names no record or a number that is not a phone number.
    response = case.call_and_validate(headers=fuzz_world, excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}\n{case.as_curl_command()}\n"
        f"{response.text[:2000]}"
    )
