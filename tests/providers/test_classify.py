"""Vendor answers -> SendResult, WIRE.md 1.3 (responses built locally: the table is pure mapping)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from providers.kinds.base import Outcome
from providers.kinds.common import parse_retry_after
from rcsconnect.http import BlockedAddressError
from tests.providers.payloads import payload_provider


def response(status: int, body=None, headers=None) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = (json.dumps(body) if isinstance(body, dict | list) else (body or "")).encode()
    r.headers.update(headers or {})
    return r


def kind(slug="generic_rcs", auth="none"):
    provider = payload_provider(slug)
    provider.config = {**provider.config, "auth_type": auth}
    return provider.kind_class(provider)


@pytest.mark.parametrize(
    ("body", "vendor_id"),
    [
        (None, ""),
        ({"status": "success"}, ""),
        ({"status": "success", "messageId": "v-9"}, "v-9"),
        ({"id": 42}, "42"),
        ({"vendorMsgId": "x"}, "x"),
        ("accepted", ""),
    ],
)
def test_generic_2xx_is_sent(body, vendor_id):
    result = kind().classify(response(202 if body is None else 200, body))
    assert result.outcome == Outcome.SENT
    assert result.vendor_id == vendor_id


@pytest.mark.parametrize("code", [2000, 2001, 2002, 2003, 2004])
def test_generic_200_failure_is_failed_with_code(code):
    body = {"status": "failure", "error": {"code": code, "message": "nope"}}
    result = kind().classify(response(200, body))
    assert (result.outcome, result.error_code, result.error_message) == (Outcome.FAILED, str(code), "nope")
    assert result.provider_unhealthy is (code == 2000)


def test_429_with_retry_after_seconds_and_date():
    result = kind().classify(response(429, "", {"Retry-After": "7"}))
    assert (result.outcome, result.throttled, result.retry_after) == (Outcome.RETRY, True, 7.0)
    later = datetime.now(UTC) + timedelta(seconds=30)
    result = kind().classify(response(429, "", {"Retry-After": format_datetime(later, usegmt=True)}))
    assert 25 <= result.retry_after <= 31
    assert kind().classify(response(429)).retry_after is None


def test_parse_retry_after_rejects_garbage():
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retry(status):
    result = kind().classify(response(status, "boom"))
    assert (result.outcome, result.error_code, result.throttled) == (Outcome.RETRY, str(status), False)


@pytest.mark.parametrize("status", [401, 403])
def test_401_with_oauth_asks_for_reauth_without_it_keeps_queued(status):
    assert kind(auth="oauth2").classify(response(status)).outcome == Outcome.REAUTH
    basic = kind(auth="basic").classify(response(status))
    assert (basic.outcome, basic.error_code, basic.provider_unhealthy) == (Outcome.RETRY, "auth", True)


@pytest.mark.parametrize("status", [400, 404, 410, 422])
def test_other_4xx_is_failed(status):
    result = kind().classify(response(status, {"error": "bad"}))
    assert (result.outcome, result.error_code) == (Outcome.FAILED, str(status))


@pytest.mark.parametrize(
    ("error", "code", "unhealthy"),
    [
        (requests.ConnectTimeout("slow"), "timeout", False),
        (requests.ReadTimeout("slow"), "timeout", False),
        (requests.ConnectionError("reset"), "connection", False),
        (BlockedAddressError("10.0.0.1"), "blocked", True),
    ],
)
def test_transport_errors_are_retry(error, code, unhealthy):
    for slug in ("generic_rcs", "jiocx"):
        result = kind(slug).classify(None, error)
        assert (result.outcome, result.error_code, result.provider_unhealthy) == (
            Outcome.RETRY,
            code,
            unhealthy,
        )


def test_jiocx_answers():
    jio = kind("jiocx")
    assert jio.classify(response(200, {"messageId": "j-1"})).vendor_id == "j-1"
    failed = jio.classify(
        response(200, {"status": "failure", "error": {"code": "E12", "message": "bad agent"}})
    )
    assert (failed.outcome, failed.error_code) == (Outcome.FAILED, "E12")
    assert jio.classify(response(401)).outcome == Outcome.RETRY
    assert jio.classify(response(401)).provider_unhealthy
    assert jio.classify(response(429, "", {"Retry-After": "2"})).retry_after == 2.0
    assert jio.classify(response(400)).outcome == Outcome.FAILED
