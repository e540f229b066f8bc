"""send_message over real HTTP on loopback: auth modes, token cache and refresh, errors that keep queued."""

from __future__ import annotations

import json

import pytest

from providers.auth import oauth_token
from providers.kinds import registry
from providers.kinds.base import Outcome
from providers.models import Provider
from providers.sending import masked, send_message
from tests.providers.loopback import basic
from tests.providers.payloads import fixture, payload_message

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_cache")]


def make_provider(vendor_url, auth="none", **config) -> Provider:
    base = {"method": "POST", "endpoint": f"{vendor_url}/generic/messages", "auth_type": auth}
    secrets = {}
    if auth == "basic":
        base["username"] = "sim-user"
        secrets["password"] = "sim-pass"
    if auth == "oauth2":
        base.update(client_url=f"{vendor_url}/oauth/token", client_id="sim-client")
        base["extra_params"] = [{"name": "scope", "value": "rcs.send"}]
        secrets["client_secret"] = "sim-secret"
    base.update(config)
    return Provider.objects.create(
        kind="generic_rcs", nickname=f"p-{auth}", sender_id="agent", config=base, secrets=secrets
    )


def message():
    return payload_message(fixture("generic_rcs", "text"))


@pytest.mark.parametrize(
    ("auth", "expected"),
    [("none", None), ("basic", basic("sim-user", "sim-pass")), ("oauth2", "Bearer tok-1")],
)
def test_each_auth_mode_sends_the_right_header(vendor, session, auth, expected):
    provider = make_provider(vendor.url, auth)
    attempt = send_message(provider, message(), session=session)
    assert attempt.result.outcome == Outcome.SENT
    assert attempt.status_code == 200
    (sent,) = vendor.sends()
    assert sent["headers"].get("Authorization") == expected
    assert json.loads(sent["body"]) == attempt.request.json
    assert (
        json.loads(sent["body"])["rcsContent"]["content"]
        == fixture("generic_rcs", "text")["request"]["json"]["rcsContent"]["content"]
    )


def test_oauth_token_request_is_client_credentials_with_basic_client_auth(vendor, session):
    provider = make_provider(vendor.url, "oauth2")
    send_message(provider, message(), session=session)
    (token_request,) = vendor.token_requests()
    assert token_request["form"] == {"grant_type": "client_credentials", "scope": "rcs.send"}
    assert token_request["headers"]["Authorization"] == basic("sim-client", "sim-secret")


def test_oauth_token_is_cached_and_shared(vendor, session):
    provider = make_provider(vendor.url, "oauth2")
    for _ in range(3):
        assert send_message(provider, message(), session=session).result.outcome == Outcome.SENT
    # Another process would load its own Provider instance: same cache entry.
    again = Provider.objects.get(pk=provider.pk)
    assert oauth_token(again, session) == "tok-1"
    assert len(vendor.token_requests()) == 1


def test_oauth_401_refreshes_once_and_resends_same_msg_id(vendor, session):
    provider = make_provider(vendor.url, "oauth2")
    vendor.answers = [(401, {"error": "expired"}, {})]
    attempt = send_message(provider, message(), session=session)
    assert attempt.result.outcome == Outcome.SENT
    assert len(vendor.token_requests()) == 2
    first, second = vendor.sends()
    assert first["headers"]["Authorization"] == "Bearer tok-1"
    assert second["headers"]["Authorization"] == "Bearer tok-2"
    assert json.loads(first["body"])["msgId"] == json.loads(second["body"])["msgId"]


def test_oauth_401_twice_keeps_message_queued_and_flags_provider(vendor, session):
    provider = make_provider(vendor.url, "oauth2")
    vendor.answers = [(401, {}, {}), (401, {}, {})]
    attempt = send_message(provider, message(), session=session)
    assert (attempt.result.outcome, attempt.result.error_code) == (Outcome.RETRY, "auth")
    assert len(vendor.sends()) == 2  # refreshed once, resent once, no more
    provider.refresh_from_db()
    assert provider.health == Provider.Health.UNHEALTHY


@pytest.mark.parametrize(
    "answer", [(500, {"error": "server_error"}), (401, {"error": "invalid_client"}), (200, {"nothing": 1})]
)
def test_token_endpoint_failure_keeps_queued_and_marks_unhealthy(vendor, session, answer):
    provider = make_provider(vendor.url, "oauth2")
    vendor.token_answers = [answer]
    attempt = send_message(provider, message(), session=session)
    assert attempt.result.outcome == Outcome.RETRY
    assert attempt.result.error_code == "auth"
    assert attempt.result.provider_unhealthy
    assert vendor.sends() == []  # nothing sent without credentials
    provider.refresh_from_db()
    assert provider.health == Provider.Health.UNHEALTHY
    # The next successful send restores health.
    assert send_message(provider, message(), session=session).result.outcome == Outcome.SENT
    provider.refresh_from_db()
    assert provider.health == Provider.Health.HEALTHY


def test_429_and_failure_answers(vendor, session):
    provider = make_provider(vendor.url)
    vendor.answers = [
        (429, {}, {"Retry-After": "3"}),
        (200, {"status": "failure", "error": {"code": 2002, "message": "Invalid phone"}}, {}),
    ]
    throttled = send_message(provider, message(), session=session).result
    assert (throttled.outcome, throttled.retry_after, throttled.throttled) == (Outcome.RETRY, 3.0, True)
    failed = send_message(provider, message(), session=session).result
    assert (failed.outcome, failed.error_code) == (Outcome.FAILED, "2002")


def test_connection_refused_is_retry(session, settings):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = make_provider(f"http://127.0.0.1:{port}")
    attempt = send_message(provider, message(), session=session)
    assert (attempt.result.outcome, attempt.result.error_code, attempt.status_code) == (
        Outcome.RETRY,
        "connection",
        None,
    )


def test_private_destination_is_blocked_not_failed(session, settings):
    settings.OUTBOUND_ALLOW_HOSTS = []
    provider = make_provider("http://127.0.0.1:9")
    attempt = send_message(provider, message(), session=session)
    assert (attempt.result.outcome, attempt.result.error_code) == (Outcome.RETRY, "blocked")
    assert attempt.result.provider_unhealthy


def test_vendor_redirect_keeps_the_message_queued_naming_the_target(vendor, session):
    provider = make_provider(vendor.url, "basic")
    vendor.answers = [(307, {}, {"Location": "https://elsewhere.example/in"})]
    attempt = send_message(provider, message(), session=session)
    assert (attempt.result.outcome, attempt.result.error_code) == (Outcome.RETRY, "redirect")
    assert "https://elsewhere.example/in" in attempt.result.error_message
    assert attempt.result.provider_unhealthy
    assert len(vendor.sends()) == 1


def test_provider_may_opt_in_to_following_redirects(vendor, session):
    provider = make_provider(vendor.url, "basic", follow_redirects=True)
    vendor.answers = [(308, {}, {"Location": "/generic/moved"})]
    attempt = send_message(provider, message(), session=session)
    assert attempt.result.outcome == Outcome.SENT
    first, second = vendor.sends()
    assert second["path"] == "/generic/moved" and second["body"] == first["body"]
    assert second["headers"]["Authorization"] == basic("sim-user", "sim-pass")  # same origin


def test_credentials_echoed_by_the_vendor_are_redacted_in_every_form(vendor, session):
    provider = make_provider(vendor.url, "basic", headers=[{"name": "X-Tenant-Key", "value": "hdr-value-42"}])
    creds = basic("sim-user", "sim-pass")  # "Basic <base64>"
    echoed = {
        "headers": {"Authorization": creds, "X-Tenant-Key": "hdr-value-42"},
        "escaped": json.dumps({"Authorization": creds}),  # \"Authorization\": \"Basic ...\"
        "bearer": "Bearer eyJhbGciOi.J9-abc_123",
        "password": "sim-pass",
        "b64": creds.split()[1],
    }
    vendor.answers = [(400, {"error": {"code": 1, "message": json.dumps(echoed)}, "echo": echoed}, {})]
    attempt = send_message(provider, message(), session=session)
    shown = attempt.response_body + attempt.result.error_message
    assert '\\"Authorization\\"' in attempt.response_body  # the JSON-escaped form was there
    for leaked in (creds.split()[1], "sim-pass", "hdr-value-42", "eyJhbGciOi.J9-abc_123"):
        assert leaked not in shown, leaked


def test_jiocx_sends_api_key_header(vendor, session):
    provider = Provider.objects.create(
        kind="jiocx",
        nickname="jio",
        sender_id="agent-7",
        config={"base_url": f"{vendor.url}/jiocx", "click_tracking": "off"},
        secrets={"api_key": "sim-api-key"},
    )
    vendor.answers = [(200, {"messageId": "jio-1"}, {})]
    attempt = send_message(provider, message(), session=session)
    assert (attempt.result.outcome, attempt.result.vendor_id) == (Outcome.SENT, "jio-1")
    (sent,) = vendor.sends()
    assert sent["path"] == "/jiocx/api/v1/sendMessage"
    assert sent["headers"]["x-apikey"] == "sim-api-key"


def test_masked_hides_every_secret(vendor, session):
    provider = make_provider(
        vendor.url,
        "basic",
        headers=[{"name": "X-Api-Key", "value": "hdr-secret"}, {"name": "X-Tenant", "value": "a"}],
    )
    attempt = send_message(provider, message(), session=session)
    shown = masked(attempt.request, provider.kind_class(provider))
    text = json.dumps(shown)
    assert "sim-pass" not in text and "hdr-secret" not in text
    assert basic("sim-user", "sim-pass").split()[1] not in text
    assert shown["headers"]["Authorization"] == "Basic ********"
    assert shown["headers"]["X-Tenant"] == "a"
    assert shown["json"]["msgId"] == "rcs-7f3a9c-000001"


def test_third_kind_is_one_module_and_one_registry_line(vendor, session, settings):
    settings.RCS_PROVIDER_KINDS = [*settings.RCS_PROVIDER_KINDS, "tests.providers.thirdkind.echo.EchoKind"]
    registry.reset()
    try:
        assert "echo" in dict(registry.choices())
        provider = Provider.objects.create(
            kind="echo",
            nickname="echo",
            sender_id="e",
            config={"url": f"{vendor.url}/echo"},
            secrets={"token": "t0k3n"},
        )
        vendor.answers = [(200, {"echo": "e-1"}, {})]
        attempt = send_message(provider, message(), session=session)
        assert (attempt.result.outcome, attempt.result.vendor_id) == (Outcome.SENT, "e-1")
        assert vendor.sends()[0]["headers"]["X-Echo-Token"] == "t0k3n"
        assert "t0k3n" not in json.dumps(masked(attempt.request, provider.kind_class(provider)))
        (event,) = provider.kind_class(provider).parse_callback({"id": "m-1"})
        assert event.status == "delivered"
    finally:
        settings.RCS_PROVIDER_KINDS = settings.RCS_PROVIDER_KINDS[:-1]
        registry.reset()


def test_registry_rejects_duplicate_slugs(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.RCS_PROVIDER_KINDS = [
        "providers.kinds.generic_rcs.GenericRcsKind",
        "providers.kinds.generic_rcs.GenericRcsKind",
    ]
    registry.reset()
    try:
        with pytest.raises(ImproperlyConfigured, match="registered twice"):
            registry.all()
    finally:
        registry.reset()
