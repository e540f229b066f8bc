"""Fuzzing the edges (issue 19): every API operation with positive and negative cases (schemathesis),
and the callback endpoint with random bytes, JSON, headers and tokens (hypothesis). No answer is a
5xx, and every 4xx carries a JSON body. A bounded number of examples keeps it to about a minute."""

from __future__ import annotations

import json
import time

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.api.test_schemathesis import fuzz_world  # noqa: F401 - a fixture

EXAMPLES = 8


def _load_schema():
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(document)
    schema.config.generation.update(modes=list(schemathesis.GenerationMode), allow_x00=True)
    schema.app = get_wsgi_application()
    return schema


schema = _load_schema()


def _is_json(response) -> bool:
    headers = {k.lower(): v for k, v in response.headers.items()}
    content_type = headers.get("content-type", "")
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/json"):
        return False
    try:
        json.loads(response.content)
    except ValueError:
        return False
    return True


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@pytest.mark.timeout(600)
def test_api_errors_are_json_and_never_5xx(case, fuzz_world):  # noqa: F811 - the imported fixture
    response = case.call(headers=fuzz_world)
    where = f"{case.method} {case.formatted_path} -> {response.status_code}\n{response.text[:1000]}"
    assert response.status_code < 500, where
    if 400 <= response.status_code < 500 and response.status_code != 405:
        assert _is_json(response), where


# -- the callback endpoint -----------------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
STATUS_ITEM = st.fixed_dictionaries(
    {},
    optional={
        "msgId": st.one_of(st.just("m-1"), st.text(max_size=130)),
        "channel": st.sampled_from(["RCS", "SMS", "FAX", "", "rcs"]) | st.text(max_size=5),
        "status": st.sampled_from(["delivered", "read", "failed", "clicked", "replied", "x"])
        | st.text(max_size=8),
        "timestamp": st.integers() | st.text(max_size=12) | st.floats(allow_nan=False, allow_infinity=False),
        "from": st.text(max_size=16),
        "text": st.text(max_size=40),
    },
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.lists(STATUS_ITEM | JSON_VALUES, max_size=5).map(lambda s: json.dumps({"statuses": s}).encode()),
)
HEADER_VALUE = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"), max_size=40
)
NOW = int(time.time())
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "X-RCS-Signature": HEADER_VALUE,
        "Authorization": HEADER_VALUE,
        "X-RCS-Timestamp": st.sampled_from([str(NOW), str(NOW - 299), str(NOW + 400), "0", "x"])
        | HEADER_VALUE,
        "Accept": HEADER_VALUE,
        "Content-Type": st.sampled_from(["application/json", "text/plain", ""]) | HEADER_VALUE,
        "X-Other": HEADER_VALUE,
    },
)
TOKENS = st.one_of(
    st.none(), st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), min_size=1, max_size=40)
)


@pytest.fixture
def callback_targets(db):
    from providers import callbacks
    from tests.api.factories import make_message, make_provider

    callbacks._providers.clear()
    plain = make_provider(kind="generic_rcs")
    signed = make_provider(
        kind="jiocx",
        config={"base_url": "https://api.jiocx.example.com/"},
        callback_hmac_secrets=["fuzz-secret"],
        callback_basic_credentials=[{"username": "u", "password": "p"}],
    )
    make_message(plain, msg_id="m-1")
    return [plain.callback_token, signed.callback_token]


@pytest.mark.usefixtures("sync_tasks")
@pytest.mark.timeout(300)
def test_callback_endpoint_never_answers_5xx_and_errors_are_json(client, callback_targets):
    from urllib.parse import quote

    @given(
        body=BODIES,
        headers=HEADERS,
        token=TOKENS,
        which=st.integers(0, 1),
        method=st.sampled_from(["post", "put"]),
    )
    # Known edges, always tried: a non-ASCII signature, a NUL in the token, a stale timestamp.
    @example(
        body=b"{}", headers={"X-RCS-Signature": "sha256=\u00e9\u00e9"}, token=None, which=1, method="post"
    )
    @example(body=b"{}", headers={}, token="abc\x00", which=0, method="post")
    @example(body=b"\x00", headers={"X-RCS-Timestamp": "1"}, token=None, which=1, method="put")
    @settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def fuzz(body, headers, token, which, method):
        path_token = quote(token, safe="") if token is not None else callback_targets[which]
        content_type = headers.pop("Content-Type", "application/json")
        response = getattr(client, method)(
            f"/callbacks/{path_token}/", data=body, content_type=content_type, headers=headers
        )
        answer = f"{response.status_code} {response.content[:300]!r}"
        where = f"{method} {path_token!r} {headers!r} {body[:200]!r} -> {answer}"
        assert response.status_code < 500, where
        if response.status_code >= 400:
            assert response["Content-Type"].startswith("application/json"), where
            assert json.loads(response.content)["status"] == "error", where

    fuzz()
