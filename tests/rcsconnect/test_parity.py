"""One rule, one verdict: each bad input given through the dashboard, the API and the admin is refused
on every surface with the same field and the same message (the validation services own the rules).

Each surface's answer is brought to the services' field names (`config.endpoint`, `content.text`,
`placeholder_mapping`, ...) and compared as a set of (field, message) pairs.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.forms import CampaignForm
from campaigns.imports import Tally, read_rows
from campaigns.models import Campaign, Contact
from providers.demo import save_provider
from providers.forms import ProviderForm
from providers.kinds import registry
from providers.models import Provider
from rcsconnect.form_errors import Refused
from templates_app.models import MessageTemplate
from tests.campaigns.conftest import make_audience, make_provider, make_template

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1", "localhost"]


@pytest.fixture
def api(marketer) -> APIClient:
    client = APIClient()
    client.force_authenticate(marketer)
    return client


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root", password="correct-horse-9")


def _admin_form(model, user, data, instance=None):
    request = RequestFactory().post("/", data)
    request.user = user
    model_admin = admin.site._registry[model]
    return model_admin.get_form(request, instance)(data, instance=instance)


def _pairs(errors: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for field, messages in errors.items():
        if isinstance(messages, dict):
            for path, inner in messages.items():
                out |= {(f"{field}.{path}" if path else field, m) for m in inner}
        else:
            out |= {(field, str(m)) for m in messages}
    return out


def _dotted(errors, fields: tuple[str, ...]) -> set[tuple[str, str]]:
    """Admin answers: a setting's message is "<key>: <message>" on its box; others "<name>: ..." above."""
    out = set()
    for field, messages in errors.items():
        for message in messages:
            if field in fields and ": " in message:
                key, _, text = message.partition(": ")
                out.add((f"{field}.{key}" if key != "message" else field, text))
            elif field == "__all__" and ": " in message:
                key, _, text = message.partition(": ")
                out.add((key, text.removesuffix(" (set it on the dashboard)")))
            else:
                out.add((field, message))
    return out


# -- providers ---------------------------------------------------------------------------------------------
def provider_input(**changes) -> dict[str, Any]:
    data = {
        "kind": "generic_rcs",
        "nickname": "Parity",
        "sender_id": "parity-agent",
        "enabled": True,
        "config": {"method": "POST", "endpoint": "https://127.0.0.1:8443/messages", "auth_type": "none"},
        "secrets": {},
        "sms_fallback": False,
        "sms_sender_id": "",
        "india": False,
        "principal_entity_id": "",
        "dlt_template_ids": [],
    }
    config = changes.pop("config", {})
    data.update(changes)
    data["config"] = {**data["config"], **config} if data["kind"] == "generic_rcs" else config
    return data


def _provider_post(data) -> dict[str, Any]:
    """The inputs of the provider form, the same on the dashboard and in the admin (the kind's declared
    fields as `cfg_<key>` / `secret_<key>`, never a config box)."""
    kind = registry.get(data["kind"])
    post = {k: v for k, v in data.items() if k not in ("config", "secrets", "dlt_template_ids")}
    post = {k: ("on" if v is True else v) for k, v in post.items() if v is not False}
    post["dlt_template_ids"] = "\n".join(data["dlt_template_ids"])
    post.update({f"cfg_{k}": v for k, v in data["config"].items()})
    post.update({f"secret_{k}": v for k, v in data["secrets"].items()})
    for key in [*kind.key_value_fields, "sms_params"]:
        post.update({f"{key}-TOTAL_FORMS": "0", f"{key}-INITIAL_FORMS": "0"})
    return post


def _provider_verdict(form) -> set:
    kind = form.kind
    assert not form.is_valid()
    names = {f"cfg_{k}": f"config.{k}" for k in kind.config_fields}
    names |= {f"secret_{k}": f"secrets.{k}" for k in kind.secret_fields}
    return {(names.get(f, f), m) for f, messages in form.errors.items() for m in messages}


def provider_via_form(data) -> set:
    kind = registry.get(data["kind"])
    return _provider_verdict(ProviderForm(_provider_post(data), kind=kind, instance=Provider()))


def provider_via_api(api, data) -> set:
    response = api.post("/api/providers/", data, format="json")
    assert response.status_code == 400, response.content
    return _pairs(response.json())


def provider_via_admin(user, data) -> set:
    """The admin's add form (the kind chosen by its `kind` input, as ?kind= on the add page)."""
    return _provider_verdict(_admin_form(Provider, user, _provider_post(data)))


def provider_via_command(data) -> set:
    """The management commands' path (`demo_data`, the quick start): providers.demo.save_provider."""
    values = {k: v for k, v in data.items() if k not in ("kind", "config", "secrets")}
    with pytest.raises(Refused) as refused:
        save_provider(kind=data["kind"], config=data["config"], secrets=data["secrets"], values=values)
    return _pairs(refused.value.errors)


PROVIDER_CASES = [
    (
        "http endpoint",
        {"config": {"endpoint": "http://vendor.example.com/send"}},
        ("config.endpoint", "Use an https:// URL."),
    ),
    (
        "private host",
        {"config": {"endpoint": "https://10.1.2.3/send"}},
        ("config.endpoint", "This host resolves to a private, loopback or reserved address."),
    ),
    (
        "metadata host",
        {"config": {"template_status_url": "https://169.254.169.254/t"}},
        ("config.template_status_url", "This host resolves to a private, loopback or reserved address."),
    ),
    ("not a url", {"config": {"endpoint": "not a url"}}, ("config.endpoint", "Enter a valid URL.")),
    (
        "bad port",
        {"config": {"endpoint": "https://127.0.0.1:99999/send"}},
        ("config.endpoint", "The port must be a number from 1 to 65535."),
    ),
    (
        "fallback without sender",
        {"sms_fallback": True},
        ("sms_sender_id", "Enter the SMS sender ID for the fallback."),
    ),
    (
        "india without PE ID",
        {"india": True, "dlt_template_ids": ["1107"]},
        ("principal_entity_id", "India requires the Principal Entity ID."),
    ),
    (
        "india without DLT IDs",
        {"india": True, "principal_entity_id": "1201"},
        ("dlt_template_ids", "India requires at least one DLT template ID."),
    ),
    (
        "DLT ID not digits",
        {"dlt_template_ids": ["12ab"]},
        ("dlt_template_ids", "DLT template IDs are digits only: 12ab."),
    ),
    (
        "PE ID not digits",
        {"principal_entity_id": "12-34"},
        ("principal_entity_id", "The Principal Entity ID is digits only."),
    ),
    (
        "basic without user",
        {"config": {"auth_type": "basic"}, "secrets": {"password": "pw-123"}},
        ("config.username", "Required for this authentication."),
    ),
    (
        "oauth without secret",
        {"config": {"auth_type": "oauth2", "client_url": "https://127.0.0.1:8443/t", "client_id": "c"}},
        ("secrets.client_secret", "Required for this authentication."),
    ),
    (
        "jiocx without API key",
        {"kind": "jiocx", "config": {"base_url": "https://127.0.0.1:8443/jio", "click_tracking": "off"}},
        ("secrets.api_key", "Required."),
    ),
    (
        "jiocx custom domain missing",
        {
            "kind": "jiocx",
            "config": {"base_url": "https://127.0.0.1:8443/jio", "click_tracking": "custom"},
            "secrets": {"api_key": "k-1"},
        },
        ("config.click_domain", "Enter the custom click tracking domain."),
    ),
    (
        "unknown auth choice",
        {"config": {"auth_type": "kerberos"}},
        ("config.auth_type", "Select a valid choice. kerberos is not one of the available choices."),
    ),
]


@pytest.mark.parametrize(
    "changes,verdict", [c[1:] for c in PROVIDER_CASES], ids=[c[0] for c in PROVIDER_CASES]
)
def test_provider_verdicts_agree(api, superuser, changes, verdict):
    data = provider_input(**changes)
    form, via_api, via_admin, via_command = (
        provider_via_form(data),
        provider_via_api(api, data),
        provider_via_admin(superuser, data),
        provider_via_command(data),
    )
    assert verdict in form, form
    assert form == via_api == via_admin == via_command, (form, via_api, via_admin, via_command)
    assert not Provider.objects.filter(nickname=data["nickname"]).exists()


def test_a_taken_nickname_is_refused_alike(api, superuser):
    make_provider(nickname="Parity")
    data = provider_input()
    verdict = ("nickname", "Another provider already has this nickname.")
    assert verdict in provider_via_form(data)
    assert verdict in provider_via_api(api, data)
    assert verdict in provider_via_admin(superuser, data)
    # The commands update their own provider by its exact nickname; another's (any case) is refused.
    assert verdict in provider_via_command({**data, "nickname": "PARITY"})


# -- campaigns ------------------------------------------------------------------------------------------
def campaign_input(provider=None, template=None, **changes) -> dict[str, Any]:
    provider = provider or make_provider()
    template = template or make_template(provider, text="Hi {{1}}")
    data = {
        "name": "Parity",
        "provider": provider.pk,
        "template": template.pk,
        "audience": make_audience(1).pk,
        "placeholder_mapping": [{"source": "attribute", "value": "name"}],
        "sms_fallback_text": "",
        "dlt_template_id": "",
        "click_tracking": "off",
        "schedule_timezone": "UTC",
    }
    data.update(changes)
    return data


def campaign_via_form(data) -> set:
    post = {k: v for k, v in data.items() if k != "placeholder_mapping"}
    post["schedule"] = "now"
    for n, entry in enumerate(data["placeholder_mapping"], start=1):
        post[f"map_source_{n}"], post[f"map_value_{n}"] = entry["source"], entry["value"]
    form = CampaignForm(post)
    assert not form.is_valid()
    return {
        ("placeholder_mapping" if f.startswith("map_") else f, m) for f, ms in form.errors.items() for m in ms
    }


def campaign_via_api(api, data) -> set:
    response = api.post("/api/campaigns/", data, format="json")
    assert response.status_code == 400, response.content
    return _pairs(response.json())


def campaign_via_admin(user, data) -> set:
    # The experiment inputs (A/B) at their defaults, as the admin's add page fills them in.
    defaults = {"holdout_percent": 0, "test_percent": 0, "winner_metric": "ctr", "winner_after_minutes": 240}
    post = {**defaults, **data, "placeholder_mapping": json.dumps(data["placeholder_mapping"])}
    form = _admin_form(Campaign, user, post)
    assert not form.is_valid()
    found = _dotted(form.errors, ("placeholder_mapping",))
    return {(f.split(".")[0], m) for f, m in found}


def campaign_via_command(data) -> str:
    """The `campaign_launch` command's path: a draft stored as given is refused at launch with the
    builder's messages (campaign_check: campaigns.validation)."""
    campaign = Campaign.objects.create(
        name=data["name"],
        provider_id=data["provider"],
        template_id=data["template"],
        audience_id=data["audience"],
        placeholder_mapping=data["placeholder_mapping"],
        sms_fallback_text=data["sms_fallback_text"],
        dlt_template_id=data["dlt_template_id"],
        click_tracking=data["click_tracking"],
    )
    with pytest.raises(CommandError) as refused:
        call_command("campaign_launch", str(campaign.pk), stdout=io.StringIO())
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    return str(refused.value)


def _india():
    return make_provider(
        sms_fallback=True,
        sms_sender_id="ACME",
        india=True,
        principal_entity_id="1",
        dlt_template_ids=["1107"],
    )


def _jio_tracking():
    return make_provider(
        kind="jiocx",
        config={"base_url": "https://127.0.0.1:8443/jio", "click_tracking": "default"},
        secrets={"api_key": "k"},
    )


CAMPAIGN_CASES = [
    (
        "DLT on without template ID",
        lambda: {"provider": _india(), "sms_fallback_text": "Hi"},
        ("dlt_template_id", "India requires the DLT template ID of this SMS text."),
    ),
    (
        "DLT ID not the provider's",
        lambda: {"provider": _india(), "sms_fallback_text": "Hi", "dlt_template_id": "999"},
        ("dlt_template_id", "Not one of {provider}'s DLT template IDs."),
    ),
    (
        "DLT ID not digits",
        lambda: {
            "provider": make_provider(sms_fallback=True, sms_sender_id="A"),
            "sms_fallback_text": "Hi",
            "dlt_template_id": "12ab",
        },
        ("dlt_template_id", "The DLT template ID is digits only."),
    ),
    (
        "SMS text without fallback",
        lambda: {"sms_fallback_text": "Hi"},
        ("sms_fallback_text", "{provider} has SMS fallback turned off."),
    ),
    (
        "both click trackings",
        lambda: {"provider": _jio_tracking(), "click_tracking": "ours"},
        (
            "click_tracking",
            "{provider} has its own click tracking on; choose the provider's or turn it off there "
            "(never both).",
        ),
    ),
    (
        "provider tracking it lacks",
        lambda: {"click_tracking": "provider"},
        ("click_tracking", "{provider} has no click tracking of its own turned on."),
    ),
    (
        "unmapped placeholder",
        lambda: {"placeholder_mapping": [{"source": "attribute", "value": ""}]},
        ("placeholder_mapping", "Give an attribute name for {{1}}."),
    ),
    (
        "another provider's template",
        lambda: {"template": make_template(make_provider(), text="Hi {{1}}")},
        ("template", "This template belongs to {owner}; pick one of {provider}."),
    ),
]


@pytest.mark.parametrize("build,verdict", [c[1:] for c in CAMPAIGN_CASES], ids=[c[0] for c in CAMPAIGN_CASES])
def test_campaign_verdicts_agree(api, superuser, build, verdict):
    changes = build()
    provider = changes.pop("provider", None) or make_provider()
    template = changes.pop("template", None)
    data = campaign_input(provider, template or make_template(provider, text="Hi {{1}}"), **changes)
    owner = template.provider if template else provider
    message = verdict[1].replace("{provider}", str(provider)).replace("{owner}", str(owner))
    verdict = (verdict[0], message)
    form, via_api, via_admin = (
        campaign_via_form(data),
        campaign_via_api(api, data),
        campaign_via_admin(superuser, data),
    )
    assert verdict in form, form
    assert form == via_api == via_admin, (form, via_api, via_admin)
    via_command = campaign_via_command(data)
    assert all(message in via_command for _, message in form), (form, via_command)


# -- templates ------------------------------------------------------------------------------------------
def _flatten(value, prefix: str) -> dict[str, str]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flatten(item, f"{prefix}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flatten(item, f"{prefix}.{i}").items()}
    return {prefix: str(value)}


def template_via_builder(client, provider, name, content, samples) -> set:
    fmt = content["type"]
    post = {"provider": provider.pk, "name": name, "language": "en", "format": fmt, "status": "draft"}
    post.update(_flatten({k: v for k, v in content.items() if k != "type"}, f"c.{fmt}"))
    post.update({f"samples.{i}": v for i, v in enumerate(samples)})
    response = client.post(reverse("templates_app:create"), post)
    assert response.status_code == 400
    found = {(f, m) for f, ms in response.context["form"].errors.items() for m in ms}
    for path, messages in response.context["errors"].items():
        key = path if path.startswith("samples.") else f"content.{path}" if path else "content"
        found |= {(key, m) for m in messages}
    return found


def template_via_api(api, provider, name, content, samples) -> set:
    body = {
        "provider": provider.pk,
        "name": name,
        "language": "en",
        "content": content,
        "sample_values": samples,
    }
    response = api.post("/api/templates/", body, format="json")
    assert response.status_code == 400, response.content
    return {
        (f if f.startswith("content.samples.") is False else f[8:], m) for f, m in _pairs(response.json())
    }


def template_via_admin(user, provider, name, content, samples) -> set:
    post = {
        "provider": provider.pk,
        "name": name,
        "language": "en",
        "format": content["type"],
        "content": json.dumps(content),
        "sample_values": json.dumps(samples),
        "status": "draft",
    }
    form = _admin_form(MessageTemplate, user, post)
    assert not form.is_valid()
    found = set()
    for field, messages in form.errors.items():
        for message in messages:
            if field == "content":
                path, _, text = message.partition(": ")
                found.add((f"content.{path}" if path != "message" else "content", text))
            elif field == "sample_values":
                path, _, text = message.partition(": ")
                found.add((path, text))
            else:
                found.add((field, message))
    return found


def _card(i: int, **extra) -> dict:
    return {"title": f"Card {i}", "description": "d", "suggestions": [], **extra}


TEMPLATE_CASES = [
    (
        "11 carousel cards",
        "tmpl_a",
        {"type": "CAROUSEL", "card_width": "MEDIUM", "cards": [_card(i) for i in range(11)]},
        [],
        ("content.cards", "A carousel has 2 to 10 cards (11 given)."),
    ),
    (
        "201-character title",
        "tmpl_b",
        {"type": "RICH_CARD", "orientation": "VERTICAL", "card": _card(0, title="t" * 201)},
        [],
        ("content.card.title", "Title is 201 characters; the limit is 200."),
    ),
    (
        "1001-character text",
        "tmpl_c",
        {"type": "TEXT", "text": "x" * 1001, "suggestions": []},
        [],
        ("content.text", "Text is 1001 characters; the limit is 1000."),
    ),
    (
        "empty text",
        "tmpl_d",
        {"type": "TEXT", "text": "", "suggestions": []},
        [],
        ("content.text", "Enter the message text."),
    ),
    (
        "bad dial number",
        "tmpl_e",
        {
            "type": "TEXT",
            "text": "Hi",
            "suggestions": [
                {"type": "DIAL_PHONE", "text": "Call", "postback_data": "c", "phone_number": "12345"}
            ],
        },
        [],
        ("content.suggestions.0.phone_number", "Enter a valid number in E.164 format, e.g. +14155550123."),
    ),
    (
        "name with a space",
        "bad name",
        {"type": "TEXT", "text": "Hi", "suggestions": []},
        [],
        ("name", "Use only letters, digits and underscores."),
    ),
    (
        "missing sample",
        "tmpl_f",
        {"type": "TEXT", "text": "Hi {{1}}", "suggestions": []},
        [""],
        ("samples.0", "Enter a sample value for {{1}}."),
    ),
]


@pytest.mark.parametrize(
    "name,content,samples,verdict", [c[1:] for c in TEMPLATE_CASES], ids=[c[0] for c in TEMPLATE_CASES]
)
def test_template_verdicts_agree(marketer_client, api, superuser, name, content, samples, verdict):
    provider = make_provider()
    builder = template_via_builder(marketer_client, provider, name, content, samples)
    via_api = template_via_api(api, provider, name, content, samples)
    via_admin = template_via_admin(superuser, provider, name, content, samples)
    assert verdict in builder, builder
    assert builder == via_api == via_admin, (builder, via_api, via_admin)


def test_a_blank_postback_answers_with_the_label_on_every_surface(marketer_client, api, superuser):
    provider = make_provider()
    content = {
        "type": "TEXT",
        "text": "Hi",
        "suggestions": [{"type": "REPLY", "text": "Yes", "postback_data": ""}],
    }
    api.post(
        "/api/templates/", {"provider": provider.pk, "name": "via_api", "content": content}, format="json"
    )
    post = {
        "provider": provider.pk,
        "name": "via_builder",
        "language": "en",
        "format": "TEXT",
        "status": "draft",
    }
    post.update(_flatten({"text": "Hi", "suggestions": content["suggestions"]}, "c.TEXT"))
    marketer_client.post(reverse("templates_app:create"), post)
    form = _admin_form(
        MessageTemplate,
        superuser,
        {
            "provider": provider.pk,
            "name": "via_admin",
            "language": "en",
            "format": "TEXT",
            "content": json.dumps(content),
            "sample_values": "[]",
            "status": "draft",
        },
    )
    assert form.is_valid(), form.errors
    admin.site._registry[MessageTemplate].save_model(None, form.save(commit=False), form, False)
    saved = {t.name: t.content["suggestions"][0]["postback_data"] for t in MessageTemplate.objects.all()}
    assert saved == {"via_api": "Yes", "via_builder": "Yes", "via_admin": "Yes"}


# -- contacts --------------------------------------------------------------------------------------------
def contact_via_import(number) -> set:
    """The CSV import's reading of one row (its report names the reason), with India as its country."""
    rows = []

    class Report:
        def writerow(self, row):
            rows.append(row)

    list(read_rows(io.BytesIO(f"phone\n{number}\n".encode()), "IN", Report(), Tally(), set()))
    return {("phone", row[2]) for row in rows}


@pytest.mark.parametrize(
    "number,message",
    [("12345", "Not a valid phone number for its country."), ("+abc", "Not a phone number.")],
)
def test_contact_verdicts_agree(api, superuser, number, message):
    audience = make_audience(0)
    via_api = _pairs(
        api.post(f"/api/audiences/{audience.pk}/contacts/", {"phone": number}, format="json").json()["rows"][
            "0"
        ]
    )
    form = _admin_form(
        Contact, superuser, {"audience": audience.pk, "phone": number, "attributes": "{}", "subscribed": "on"}
    )
    assert not form.is_valid()
    via_admin = {(f, m) for f, ms in form.errors.items() for m in ms}
    assert ("phone", message) in via_api
    assert via_api == via_admin == contact_via_import(number)


def test_a_repeated_contact_is_refused_alike(api, superuser):
    audience = make_audience(1)
    existing = audience.contacts.get().phone
    verdict = ("phone", f"{existing} is already in this audience.")
    response = api.post(f"/api/audiences/{audience.pk}/contacts/", {"phone": existing}, format="json")
    assert verdict in _pairs(response.json()["rows"]["0"])
    form = _admin_form(Contact, superuser, {"audience": audience.pk, "phone": existing, "attributes": "{}"})
    assert not form.is_valid() and verdict[1] in form.errors["phone"]
