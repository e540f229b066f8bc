"""Against the project's vendor simulator on loopback: payload contract, auth modes, callbacks end to end."""

from __future__ import annotations

import json
import time

import pytest
from django.urls import reverse

from providers.content import OutboundMessage
from providers.kinds.base import Outcome
from providers.models import Provider, ProviderEvent, SendTest
from providers.sending import send_message
from tests.providers.payloads import CONTENT_FIXTURES, fixture, payload_message, payload_provider


def at_simulator(kind, simulator, **fields):
    provider = payload_provider(kind)
    if kind == "generic_rcs":
        provider.config = {**provider.config, "endpoint": f"{simulator.url}/generic/messages"}
    else:
        provider.config = {**provider.config, "base_url": f"{simulator.url}/jiocx"}
        provider.secrets = {"api_key": "sim-api-key"}
    for name, value in fields.items():
        setattr(provider, name, value)
    provider.save()
    return provider


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["generic_rcs", "jiocx"])
@pytest.mark.parametrize("name", CONTENT_FIXTURES)
def test_simulator_accepts_every_content_type(simulator, session, kind, name):
    simulator.configure(callbacks=False)
    provider = at_simulator(kind, simulator)
    attempt = send_message(provider, payload_message(fixture(kind, name)), session=session)
    assert attempt.result.outcome == Outcome.SENT, attempt.response_body
    assert attempt.result.vendor_id.startswith("sim-") or attempt.result.vendor_id
    assert simulator.stats()["accepted"] == 1


AUTH_CONFIG = {
    "none": ({}, {}),
    "basic": ({"username": "sim-user"}, {"password": "sim-pass"}),
    "oauth2": ({"client_id": "sim-client"}, {"client_secret": "sim-secret"}),
}
SIM_AUTH_KNOB = {"none": "none", "basic": "basic", "oauth2": "oauth"}


def generic_at(simulator, auth, nickname=None):
    config, secrets = AUTH_CONFIG[auth]
    config = {"method": "POST", "endpoint": f"{simulator.url}/generic/messages", "auth_type": auth, **config}
    if auth == "oauth2":
        config["client_url"] = f"{simulator.url}/oauth/token"
    return Provider.objects.create(
        kind="generic_rcs",
        nickname=nickname or f"sim {auth}",
        sender_id=f"sender-{auth}",
        config=config,
        secrets=secrets,
        sms_fallback=True,
        sms_sender_id="ACMEIN",
        india=True,
        principal_entity_id="1201159100000000001",
        dlt_template_ids=["1207161000000000001"],
    )


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("auth", ["none", "basic", "oauth2"])
def test_send_test_each_auth_mode_end_to_end(
    simulator, live_server, settings, marketer_client, sync_tasks, auth
):
    """The acceptance path: Send Test page -> task -> simulator (auth enforced) -> callbacks -> page."""
    settings.PUBLIC_BASE_URL = live_server.url
    simulator.configure(auth=SIM_AUTH_KNOB[auth], read_share=0)
    provider = generic_at(simulator, auth)
    data = {
        "country_code": "91",
        "number": "9812345671",
        "rcs_text": "Hello from Send Test",
        "sms_text": "Hi",
    }
    response = marketer_client.post(reverse("providers:send_test", args=[provider.pk]), data)
    assert response.status_code == 302
    test = SendTest.objects.get(provider=provider)
    assert (test.state, test.outcome, test.status_code) == ("done", "sent", 200), test.response_body
    (sent,) = [r for r in simulator.requests() if r["path"] == "/generic/messages"]
    header = {k.lower(): v for k, v in sent["headers"].items()}.get("authorization", "")
    assert header.split(" ")[0] == {"none": "", "basic": "Basic", "oauth2": "Bearer"}[auth]
    assert sent["json"]["msgId"] == test.msg_id
    assert sent["json"]["callbackURL"] == provider.callback_url

    assert wait_for(lambda: ProviderEvent.objects.filter(msg_id=test.msg_id, status="delivered").exists())
    url = reverse("providers:send_test_result", args=[provider.pk, test.pk])
    page = marketer_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert f"POST {simulator.url}/generic/messages" in page
    assert '"status":"success"' in page.replace(" ", "") or "success" in page
    assert 'id="classification">sent<' in page
    assert 'class="event-status">delivered<' in page
    for secret in ("sim-pass", "sim-secret"):
        assert secret not in page
    if auth != "none":
        assert header not in page and header.split(" ")[1] not in page


@pytest.mark.django_db
def test_jiocx_send_and_webhook_end_to_end(simulator, live_server, settings, session):
    settings.PUBLIC_BASE_URL = live_server.url
    provider = at_simulator("jiocx", simulator)
    simulator.configure(jiocx_webhooks={provider.sender_id: provider.callback_url}, read_share=1)
    message = payload_message(fixture("jiocx", "text"))
    message = OutboundMessage(
        **{**message.__dict__, "msg_id": "jio-e2e-1", "callback_url": provider.callback_url}
    )
    attempt = send_message(provider, message, session=session)
    assert attempt.result.outcome == Outcome.SENT, attempt.response_body
    statuses = wait_for(
        lambda: (
            {"sent", "delivered", "read"}
            <= set(ProviderEvent.objects.filter(msg_id="jio-e2e-1").values_list("status", flat=True))
        )
    )
    assert statuses


@pytest.mark.django_db
def test_oauth_token_expiry_and_token_endpoint_failure(simulator, session, clean_cache):
    # The simulator's token lives 1 s: the second send meets an expired token, gets 401, refreshes
    # once and resends the same msgId.
    simulator.configure(auth="oauth", callbacks=False, token_expires_in=1)
    provider = generic_at(simulator, "oauth2")
    message = payload_message(fixture("generic_rcs", "text"))
    assert send_message(provider, message, session=session).result.outcome == Outcome.SENT
    assert simulator.stats()["tokens_issued"] == 1
    # However slow this machine is, our cache still believes in the token when the vendor has expired it.
    from providers.auth import _cache_key

    entry = clean_cache.get(_cache_key(provider))
    clean_cache.set(_cache_key(provider), {**entry, "refresh_at": time.time() + 3600}, timeout=3600)
    time.sleep(1.3)
    attempt = send_message(provider, message, session=session)
    assert attempt.result.outcome == Outcome.SENT
    stats = simulator.stats()
    assert stats["tokens_issued"] == 2
    assert stats["responses"].get("401", stats["responses"].get(401)) == 1
    sends = [r for r in simulator.requests() if r["path"] == "/generic/messages"]
    assert [r["json"]["msgId"] for r in sends[-2:]] == [message.msg_id] * 2
    # The token endpoint fails: the message stays queued and the provider shows unhealthy.
    from django.core.cache import cache

    from providers.auth import forget_local_tokens

    cache.clear()
    forget_local_tokens()
    simulator.configure(token_error_500=1.0)
    attempt = send_message(provider, message, session=session)
    assert (attempt.result.outcome, attempt.result.error_code) == (Outcome.RETRY, "auth")
    provider.refresh_from_db()
    assert provider.health == Provider.Health.UNHEALTHY
    simulator.configure(token_error_500=0.0)
    assert send_message(provider, message, session=session).result.outcome == Outcome.SENT
    provider.refresh_from_db()
    assert provider.health == Provider.Health.HEALTHY


@pytest.mark.django_db
def test_basic_auth_with_wrong_password_keeps_message_queued(simulator, session):
    simulator.configure(auth="basic", callbacks=False)
    provider = generic_at(simulator, "basic")
    provider.secrets = {"password": "wrong"}
    provider.save()
    attempt = send_message(provider, payload_message(fixture("generic_rcs", "text")), session=session)
    assert (attempt.result.outcome, attempt.status_code) == (Outcome.RETRY, 401)
    assert json.loads(attempt.response_body) is not None


@pytest.mark.django_db
def test_a_token_is_reused_from_memory_without_asking_the_shared_cache(
    simulator, session, clean_cache, monkeypatch
):
    from providers import auth

    simulator.configure(auth="oauth", callbacks=False)
    provider = generic_at(simulator, "oauth2")
    first = auth.oauth_token(provider, session)
    # Within LOCAL_SECONDS the token comes from this process's memory: the shared cache is not read.
    monkeypatch.setattr(auth.cache, "get", lambda *a, **k: pytest.fail("shared cache read"))
    assert auth.oauth_token(provider, session) == first
    monkeypatch.undo()
    # Forgetting the token drops the copy in memory too: the next call fetches a new one.
    auth.forget_token(provider)
    assert auth.oauth_token(provider, session) != first
    assert simulator.stats()["tokens_issued"] == 2
