"""Outbound payloads for every content type, both kinds, compared with the JSON fixtures exactly."""

from __future__ import annotations

import pytest

from providers.content import OutboundMessage
from tests.providers.payloads import CONTENT_FIXTURES, fixture, payload_message, payload_provider

KINDS = ("generic_rcs", "jiocx")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", CONTENT_FIXTURES)
def test_request_matches_fixture(kind, name):
    data = fixture(kind, name)
    provider = payload_provider(kind)
    request = provider.kind_class(provider).build_request(payload_message(data))
    assert request.method == data["request"]["method"]
    assert request.url == data["request"]["url"]
    assert request.headers == data["request"]["headers"]
    assert request.json == data["request"]["json"]


def test_generic_without_fallback_has_no_sms_content_and_put_method():
    provider = payload_provider("generic_rcs")
    provider.config = {**provider.config, "method": "PUT"}
    request = provider.kind_class(provider).build_request(payload_message(fixture("generic_rcs", "media")))
    assert request.method == "PUT"
    assert "smsContent" not in request.json
    assert "template" not in request.json["rcsContent"]


def test_generic_sms_outside_india_has_no_dlt_fields():
    provider = payload_provider("generic_rcs")
    provider.india = False
    request = provider.kind_class(provider).build_request(payload_message(fixture("generic_rcs", "text")))
    assert request.json["smsContent"] == {
        "senderId": "ACMEIN",
        "body": "Your order shipped: track at example.com/t/1",
        "customParam": [{"name": "route", "value": "transactional"}],
    }


def test_message_values_override_provider_sms_defaults():
    from providers.content import SmsFallback

    provider = payload_provider("generic_rcs")
    base = payload_message(fixture("generic_rcs", "text"))
    sms = SmsFallback(body="hi", sender_id="OTHER", dlt_template_id="999", principal_entity_id="888")
    message = OutboundMessage(**{**base.__dict__, "sms": sms})
    body = provider.kind_class(provider).build_request(message).json["smsContent"]
    assert (body["senderId"], body["dltTemplateId"], body["principalEntityId"]) == ("OTHER", "999", "888")


def test_jiocx_click_tracking_custom_domain():
    provider = payload_provider("jiocx")
    provider.config = {**provider.config, "click_tracking": "custom", "click_domain": "go.acme.in"}
    request = provider.kind_class(provider).build_request(payload_message(fixture("jiocx", "text")))
    assert request.json["data"]["clickTracking"] == {"enabled": True, "domain": "go.acme.in"}


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_content_type_is_refused(kind):
    provider = payload_provider(kind)
    with pytest.raises(ValueError, match="Unknown content type"):
        provider.kind_class(provider).build_request(payload_message({"content": {"type": "HOLOGRAM"}}))
