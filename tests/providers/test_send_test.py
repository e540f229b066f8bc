"""Send Test: form -> django-q2 task -> real HTTP -> stored masked request, answer, classification, events."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from providers.models import Provider, SendTest
from tests.providers.loopback import basic

pytestmark = pytest.mark.django_db


def provider_for(vendor, auth):
    config = {
        "method": "POST",
        "endpoint": f"{vendor.url}/generic/messages",
        "auth_type": auth,
        "headers": [{"name": "X-Api-Token", "value": "hdr-tok-999"}],
    }
    secrets = {}
    if auth == "basic":
        config["username"], secrets["password"] = "sim-user", "sim-pass"
    if auth == "oauth2":
        config.update(client_url=f"{vendor.url}/oauth/token", client_id="sim-client")
        secrets["client_secret"] = "sim-secret"
    return Provider.objects.create(
        kind="generic_rcs",
        nickname=f"t-{auth}",
        sender_id="agent-1",
        config=config,
        secrets=secrets,
        sms_fallback=True,
        sms_sender_id="ACME",
        india=True,
        principal_entity_id="1201",
        dlt_template_ids=["1207"],
    )


def run_test(client, provider, django_capture_on_commit_callbacks, **extra):
    data = {
        "country_code": "91",
        "number": "98123 45678",
        "rcs_text": "Hello from the test",
        "sms_text": "Hello by SMS",
        "template_name": "",
        "principal_entity_id": "1201159100000000001",
        **extra,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("providers:send_test", args=[provider.pk]), data)
    assert response.status_code == 302, response.context["form"].errors if response.context else response
    return SendTest.objects.get(provider=provider)


@pytest.mark.parametrize(
    ("auth", "header"), [("none", None), ("basic", basic("sim-user", "sim-pass")), ("oauth2", "Bearer tok-1")]
)
def test_send_test_each_auth_mode(
    marketer_client, vendor, sync_tasks, clean_cache, django_capture_on_commit_callbacks, auth, header
):
    provider = provider_for(vendor, auth)
    test = run_test(marketer_client, provider, django_capture_on_commit_callbacks)
    assert test.state == "done" and test.outcome == "sent" and test.status_code == 200
    (sent,) = vendor.sends()
    assert sent["headers"].get("Authorization") == header
    body = json.loads(sent["body"])
    assert body["msgId"] == test.msg_id and body["to"] == "+919812345678"
    assert body["rcsContent"]["content"] == {"type": "TEXT", "text": "Hello from the test", "suggestions": []}
    assert body["smsContent"]["principalEntityId"] == "1201159100000000001"
    assert body["callbackURL"] == provider.callback_url
    page = marketer_client.get(
        reverse("providers:send_test_result", args=[provider.pk, test.pk])
    ).content.decode()
    for secret in ("sim-pass", "sim-secret", "tok-1", "hdr-tok-999", "c2ltLXVzZXI6c2ltLXBhc3M="):
        assert secret not in page
    assert f"POST {vendor.url}/generic/messages" in page
    assert test.msg_id in page and "sent" in page
    if header:
        assert "Authorization: " + header.split()[0] + " ********" in page


def test_send_test_page_shows_callback_events_as_they_arrive(
    marketer_client, vendor, sync_tasks, client, django_capture_on_commit_callbacks
):
    provider = provider_for(vendor, "none")
    test = run_test(marketer_client, provider, django_capture_on_commit_callbacks)
    url = reverse("providers:send_test_result", args=[provider.pk, test.pk])
    partial = marketer_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "Waiting for the vendor" in partial and "hx-trigger" in partial
    body = {
        "payloadVersion": "0.1",
        "statuses": [
            {"msgId": test.msg_id, "channel": "RCS", "status": "delivered", "timestamp": 1764000000}
        ],
    }
    answer = client.post(
        reverse("callback", args=[provider.callback_token]), json.dumps(body), content_type="application/json"
    )
    assert answer.status_code == 200, answer.content
    partial = marketer_client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'class="event-status">delivered<' in partial


def test_send_test_rejects_invalid_number(marketer_client, vendor):
    provider = provider_for(vendor, "none")
    response = marketer_client.post(
        reverse("providers:send_test", args=[provider.pk]),
        {"country_code": "91", "number": "12", "rcs_text": "x"},
    )
    assert "Not a valid phone number" in response.context["form"].errors["number"][0]
    assert not SendTest.objects.exists()


def test_send_test_records_failure_classification(
    marketer_client, vendor, sync_tasks, django_capture_on_commit_callbacks
):
    provider = provider_for(vendor, "none")
    vendor.answers = [(200, {"status": "failure", "error": {"code": 2002, "message": "Invalid phone"}}, {})]
    test = run_test(marketer_client, provider, django_capture_on_commit_callbacks)
    assert (test.outcome, test.error_code, test.error_message) == ("failed", "2002", "Invalid phone")


def test_provider_check_command(vendor, clean_cache, capsys):
    provider = provider_for(vendor, "oauth2")
    call_command("provider_check", provider.nickname)
    out = capsys.readouterr().out
    assert "address guard: ok" in out and "authentication: ok" in out
    assert vendor.sends() == [] and len(vendor.token_requests()) == 1
    call_command("provider_check", provider.nickname, "--send-test", "+919812345678")
    out = capsys.readouterr().out
    assert "sent" in out and "sim-secret" not in out and "tok-" not in out
    assert len(vendor.sends()) == 1
    # The number is read as the phone input reads it (rcsconnect.phone): national in the default
    # country, or refused with its reason before anything is sent.
    call_command("provider_check", provider.nickname, "--send-test", "98123 45678")
    assert "+919812345678" in capsys.readouterr().out and len(vendor.sends()) == 2
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Not a valid phone number"):
        call_command("provider_check", provider.nickname, "--send-test", "12345")
    assert len(vendor.sends()) == 2


def test_provider_check_reports_bad_token_endpoint(vendor, clean_cache):
    from django.core.management.base import CommandError

    provider = provider_for(vendor, "oauth2")
    vendor.token_answers = [(401, {"error": "invalid_client"})]
    with pytest.raises(CommandError, match="authentication failed"):
        call_command("provider_check", provider.nickname)


def test_one_send_test_service_for_providers_and_templates(monkeypatch):
    """Both Send Test features run providers.services.run_test_send: a send that raises ends the test
    (never left queued) with the provider's secrets scrubbed from the message; so does a vendor answer."""
    from providers import sending
    from providers.services import send_test_run
    from templates_app.models import TemplateTestSend
    from templates_app.services import test_send_run
    from tests.api.factories import make_template

    secret = "sup3r-secret-key"
    provider = Provider.objects.create(
        kind="jiocx",
        nickname="Jio test",
        sender_id="agent",
        config={"base_url": "https://127.0.0.1:9/jio", "click_tracking": "off"},
        secrets={"api_key": secret},
    )

    def boom(*args, **kwargs):
        raise RuntimeError(f"vendor library exploded with key {secret}")

    monkeypatch.setattr(sending, "send_message", boom)
    provider_test = SendTest.objects.create(
        provider=provider, msg_id="test-p1", to="+919812345678", rcs_text="hi"
    )
    provider_test = send_test_run(send_test_id=provider_test.pk)
    template_test = TemplateTestSend.objects.create(
        template=make_template(provider), to="+919812345678", msg_id="test-t1", values=["Asha"]
    )
    template_test = test_send_run(test_send_id=template_test.pk)
    assert (
        provider_test.state == SendTest.State.ERROR and template_test.status == TemplateTestSend.Status.FAILED
    )
    for text in (provider_test.error_message, template_test.error):
        assert "exploded" in text and secret not in text
    # a template whose content does not render (no value for its placeholder) fails, not stays queued
    unrendered = TemplateTestSend.objects.create(
        template=template_test.template, to="+919812345678", msg_id="t2"
    )
    assert test_send_run(test_send_id=unrendered.pk).status == TemplateTestSend.Status.FAILED
