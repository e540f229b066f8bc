"""A third provider kind, declared here and registered by one settings line, reaches every surface through
the kind contract alone: the dashboard form, the admin form, the API (and its schema), the validation
service, both send paths (Send Test, and the engine behind POST /api/send/) and the callback view. No code
outside this test names its fields.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

import pytest
from django import forms
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from providers import validation
from providers.events import CallbackShapeError, DeliveryEvent
from providers.kinds import registry
from providers.kinds.base import Outcome, PreparedRequest, ProviderKind, SendResult
from providers.models import Provider, ProviderEvent, SendTest

pytestmark = pytest.mark.django_db

SLUG = "relay"


class RelayKind(ProviderKind):
    """A made-up vendor: a base URL, two authentications (a user and password, or an account and key)."""

    slug = SLUG
    name = "Relay (test)"
    config_fields: ClassVar[dict[str, forms.Field]] = {
        "relay_url": forms.URLField(assume_scheme="https", label="Relay URL", max_length=300),
        "login": forms.ChoiceField(
            label="Login", choices=[("pair", "User and password"), ("account", "Account key")], initial="pair"
        ),
        "relay_user": forms.CharField(label="Relay user", required=False),
        "account": forms.CharField(label="Account number", required=False),
        "priority": forms.ChoiceField(
            label="Priority", choices=[("low", "Low"), ("high", "High")], initial="low"
        ),
    }
    secret_fields: ClassVar[dict[str, forms.Field]] = {
        "relay_password": forms.CharField(label="Relay password", required=False),
        "account_key": forms.CharField(label="Account key", required=False),
    }
    key_value_fields: ClassVar[dict[str, str]] = {"relay_tags": "Relay tags"}
    sender_id_label = "Relay line"
    url_fields = ("relay_url",)
    required_fields = ("relay_url",)
    auth_choice_field = "login"
    auth_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "pair": ("relay_user", "relay_password"),
        "account": ("account", "account_key"),
    }
    redaction_keys = frozenset({"x-relay-auth"})

    def build_request(self, message) -> PreparedRequest:
        body = {"ref": message.msg_id, "dest": message.to, "text": message.content.get("text", "")}
        url = self.provider.config["relay_url"].rstrip("/") + "/relay"
        return PreparedRequest("POST", url, {"Content-Type": "application/json"}, body)

    def auth_headers(self, session, *, refresh: bool = False) -> dict[str, str]:
        config, secrets = self.provider.config, self.provider.secrets or {}
        if config.get("login") == "account":
            return {"X-Relay-Auth": f"{config.get('account')}:{secrets.get('account_key', '')}"}
        return {"X-Relay-Auth": f"{config.get('relay_user')}:{secrets.get('relay_password', '')}"}

    def classify(self, response, error=None) -> SendResult:
        if response is not None and response.ok:
            return SendResult(Outcome.SENT, vendor_id=str((response.json() or {}).get("relay_id", "")))
        return SendResult(Outcome.RETRY, error_code="relay")

    def parse_callback(self, body: Any):
        if not isinstance(body, dict) or "ref" not in body:
            raise CallbackShapeError("not a relay receipt")
        return [DeliveryEvent(msg_id=body["ref"], channel="RCS", status=body.get("state", "delivered"))]


ORDER = [
    "relay_url",
    "login",
    "relay_user",
    "relay_password",
    "account",
    "account_key",
    "priority",
    "relay_tags",
]


@pytest.fixture(autouse=True)
def relay(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    settings.RCS_PROVIDER_KINDS = [*settings.RCS_PROVIDER_KINDS, f"{__name__}.RelayKind"]
    registry.reset()
    yield RelayKind
    registry.reset()


def _names_in_order(page: str) -> list[str]:
    names = re.findall(r'name="(?:cfg_|secret_)([a-z_]+)"|id="kv-([a-z_]+)"', page)
    return [a or b for a, b in names if (a or b) != "sms_params"]  # (the SMS rows: every kind has them)


def _form_data(**overrides) -> dict[str, str]:
    data = {
        "nickname": "Relay one",
        "sender_id": "line-7",
        "enabled": "on",
        "cfg_relay_url": "https://127.0.0.1:9/r",
        "cfg_login": "account",
        "cfg_account": "AC-42",
        "secret_account_key": "relay-key-secret",
        "cfg_priority": "high",
        "dlt_template_ids": "",
        "relay_tags-TOTAL_FORMS": "0",
        "relay_tags-INITIAL_FORMS": "0",
        "sms_params-TOTAL_FORMS": "0",
        "sms_params-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_the_kind_declares_its_fields_in_order_with_their_conditions():
    declared = {d.key: d for d in RelayKind.declared_fields()}
    assert list(declared) == ORDER
    assert declared["relay_password"].store == "secrets"
    assert declared["relay_password"].shown_when == ("login", ("pair",))
    assert declared["account_key"].required_when_shown and declared["relay_url"].required
    assert declared["relay_tags"].store == "key_value"


def test_dashboard_form_shows_the_kind_and_saves_it(marketer_client):
    url = reverse("providers:create_kind", args=[SLUG])
    page = marketer_client.get(url).content.decode()
    assert _names_in_order(page) == ORDER  # each secret beside its user or account field
    assert "Relay line" in page  # the kind's sender-ID label
    assert 'data-shown-when="id_cfg_login" data-shown-values="account"' in page
    # a secret the chosen login needs is refused beside its field, by the validation service
    response = marketer_client.post(url, _form_data(secret_account_key=""))
    assert response.context["form"].errors["secret_account_key"] == [validation.REQUIRED_FOR_AUTH]
    response = marketer_client.post(url, _form_data())
    assert response.status_code == 302, response.context["form"].errors
    provider = Provider.objects.get(nickname="Relay one")
    assert provider.config["account"] == "AC-42" and provider.secrets == {"account_key": "relay-key-secret"}
    edit = marketer_client.get(reverse("providers:edit", args=[provider.pk])).content.decode()
    assert "relay-key-secret" not in edit and "AC-42" in edit


def test_admin_form_shows_the_kind_and_saves_it(admin_user_):
    client = Client()
    client.force_login(admin_user_)
    add = reverse("admin:providers_provider_add")
    assert f'href="?kind={SLUG}"' in client.get(add).content.decode()  # choose the kind first
    page = client.get(f"{add}?kind={SLUG}").content.decode()
    assert _names_in_order(page) == ORDER[:-1]  # key-value lists are rows on the dashboard and the API
    assert 'name="config"' not in page
    response = client.post(f"{add}?kind={SLUG}", _form_data(cfg_relay_url="http://127.0.0.2/r"))
    assert response.context["adminform"].form.errors["cfg_relay_url"] == ["Use an https:// URL."]
    response = client.post(f"{add}?kind={SLUG}", _form_data(nickname="Via admin"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    provider = Provider.objects.get(nickname="Via admin")
    assert provider.kind == SLUG and provider.secrets == {"account_key": "relay-key-secret"}
    change = client.get(reverse("admin:providers_provider_change", args=[provider.pk])).content.decode()
    assert "relay-key-secret" not in change and 'value="AC-42"' in change


def test_api_and_its_schema_take_the_kind(marketer):
    api = APIClient()
    api.force_authenticate(marketer)
    data = {
        "kind": SLUG,
        "nickname": "Relay API",
        "sender_id": "line-8",
        "config": {"relay_url": "https://127.0.0.1:9/r", "login": "pair", "relay_user": "u1"},
        "secrets": {},
    }
    response = api.post("/api/providers/", data, format="json")
    assert response.status_code == 400
    assert response.json() == {"secrets.relay_password": [validation.REQUIRED_FOR_AUTH]}
    response = api.post("/api/providers/", {**data, "secrets": {"relay_password": "pw-relay"}}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secrets_set"] == ["relay_password"] and "pw-relay" not in json.dumps(body)
    schema = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    for base in ("Provider", "ProviderArchived", "ProviderRequest"):  # a branch of each discriminated oneOf
        assert schema[base]["discriminator"]["mapping"][SLUG] == f"#/components/schemas/Relay{base}"
    relay = schema["RelayProviderRequest"]["properties"]
    assert relay["kind"]["enum"] == [SLUG] and list(relay["config"]["properties"]) == [
        "relay_url",
        "login",
        "relay_user",
        "account",
        "priority",
        "relay_tags",
    ]
    assert set(relay["secrets"]["properties"]) == {"relay_password", "account_key"}
    update = schema["ProviderUpdateRequest"]["properties"]["config"]["anyOf"]
    assert SLUG in {branch["x-kind"] for branch in update}


def _relay(vendor, *, secrets: dict[str, str], **config) -> Provider:
    return Provider.objects.create(
        kind=SLUG,
        nickname=f"Relay {Provider.objects.count()}",
        sender_id="line-9",
        config={"relay_url": vendor.url, "priority": "low", **config},
        secrets=secrets,
    )


def test_send_test_and_the_callback_view_use_the_contract(
    marketer_client, vendor, sync_tasks, django_capture_on_commit_callbacks
):
    provider = _relay(vendor, login="account", account="AC-1", secrets={"account_key": "k-relay-77"})
    vendor.answers = [(200, {"relay_id": "r-1"}, {})]
    data = {"country_code": "91", "number": "98123 45678", "rcs_text": "Hello relay"}
    with django_capture_on_commit_callbacks(execute=True):
        response = marketer_client.post(reverse("providers:send_test", args=[provider.pk]), data)
    assert response.status_code == 302
    test = SendTest.objects.get(provider=provider)
    assert (test.state, test.outcome, test.vendor_id) == (SendTest.State.DONE, "sent", "r-1")
    (sent,) = vendor.sends()
    assert sent["path"] == "/relay" and sent["headers"]["X-Relay-Auth"] == "AC-1:k-relay-77"
    assert "k-relay-77" not in json.dumps(test.request)  # the kind's redaction keys
    body = json.dumps({"ref": test.msg_id, "state": "delivered"})
    response = Client().post(
        reverse("callback", args=[provider.callback_token]), body, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert ProviderEvent.objects.filter(provider=provider, msg_id=test.msg_id, status="delivered").exists()


def test_the_engine_sends_for_the_kind(marketer, vendor, django_capture_on_commit_callbacks):
    """The other send path: POST /api/send/ queues a message, the engine's dispatcher sends it."""
    from campaigns import services
    from tests.api.factories import make_template

    provider = _relay(vendor, login="pair", relay_user="u-9", secrets={"relay_password": "pw-engine-5"})
    template = make_template(provider, content={"type": "TEXT", "text": "Hi {{1}}"}, sample_values=["A"])
    vendor.answers = [(200, {"relay_id": "r-9"}, {})]
    api = APIClient()
    api.force_authenticate(marketer)
    with django_capture_on_commit_callbacks():
        response = api.post(
            "/api/send/", {"template": template.pk, "to": "+919812345678", "values": ["Asha"]}, format="json"
        )
    assert response.status_code == 202, response.json()
    services.dispatch_run(provider_id=provider.pk, budget=3)
    (sent,) = vendor.sends()
    assert sent["path"] == "/relay" and sent["headers"]["X-Relay-Auth"] == "u-9:pw-engine-5"
    assert json.loads(sent["body"])["text"] == "Hi Asha"
    assert api.get(f"/api/messages/{response.json()['id']}/").json()["status"] == "sent"
