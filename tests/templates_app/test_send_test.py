"""Send test: the form queues a task that sends the rendered template over real HTTP to the simulator."""

from __future__ import annotations

import pytest
from django.urls import reverse

from providers.models import Provider
from templates_app.models import MessageTemplate, TemplateTestSend

from .conftest import load_fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def generic(simulator):
    simulator.configure(callbacks=False)  # no delivery reports to the (absent) public callback URL
    return Provider.objects.create(
        kind="generic_rcs",
        nickname="Loopback",
        sender_id="acme-agent",
        config={"method": "POST", "endpoint": f"{simulator.url}/generic/messages", "auth_type": "none"},
    )


@pytest.fixture
def template(generic):
    data = load_fixture("text")
    return MessageTemplate.objects.create(
        provider=generic, name="order", format="TEXT", content=data["content"], sample_values=data["values"]
    )


def test_send_test_renders_values_and_records_the_exchange(marketer_client, template, simulator, sync_tasks):
    url = reverse("templates_app:send_test", args=[template.pk])
    page = marketer_client.get(url).content.decode()
    assert 'value="Asha Rao"' in page and 'value="A 17/x"' in page  # sample values prefilled
    response = marketer_client.post(url, {"to": "+14155550199", "value_1": "Ravi", "value_2": "B-9"})
    assert response.status_code == 302
    test = TemplateTestSend.objects.get()
    assert test.status == "sent" and test.status_code == 200 and test.values == ["Ravi", "B-9"]
    sent = next(r for r in simulator.requests() if r["path"] == "/generic/messages")["json"]
    assert sent["to"] == "+14155550199" and sent["msgId"] == test.msg_id
    content = sent["rcsContent"]["content"]
    assert content["text"] == "Hi Ravi, your order *B-9* ships _today_."
    assert content["suggestions"][1]["url"] == "https://shop.example.com/t/B-9"
    assert test.request["json"]["msgId"] == test.msg_id
    results = marketer_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "+14155550199" in results and "Sent" in results and "HTTP 200" in results


def test_send_test_records_vendor_failure(marketer_client, template, simulator, sync_tasks):
    simulator.configure(failure_200=1.0)  # 200 with {"status": "failure", "error": {"code": 2004, ...}}
    marketer_client.post(
        reverse("templates_app:send_test", args=[template.pk]),
        {"to": "+14155550199", "value_1": "a", "value_2": "b"},
    )
    test = TemplateTestSend.objects.get()
    assert test.status == "failed" and "2004" in test.error


def test_send_test_form_rejects_bad_number(marketer_client, template):
    response = marketer_client.post(
        reverse("templates_app:send_test", args=[template.pk]),
        {"to": "12345", "value_1": "a", "value_2": "b"},
    )
    assert "E.164" in response.content.decode()
    assert TemplateTestSend.objects.count() == 0
