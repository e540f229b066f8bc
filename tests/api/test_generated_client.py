"""An integrator's client, generated from the live schema by openapi-python-client, drives the whole flow.

The client is generated from `/api/schema/` into a temporary directory, must import and pass `ruff check`,
then goes through provider, template, audience, contacts, campaign, launch, poll, stats, messages and a
transactional send twice with one Idempotency-Key against a live server whose provider points at the
vendor simulator. Every documented answer arrives typed (never `None`), errors included.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.contrib.auth.models import User

VENV_BIN = Path(sys.executable).parent
GENERATOR = shutil.which("openapi-python-client", path=str(VENV_BIN)) or shutil.which("openapi-python-client")


@pytest.fixture
def generated(live_server, marketer: User, tmp_path: Path):
    """The `rcs_client` package generated from the live server's schema, importable."""
    assert GENERATOR, "openapi-python-client is missing: pip install -e '.[dev]'"
    token = requests.post(
        f"{live_server.url}/api/token/",
        json={"username": "marketer", "password": "correct-horse-9"},
        timeout=30,
    ).json()["token"]
    schema = requests.get(
        f"{live_server.url}/api/schema/?format=json", headers={"Authorization": f"Token {token}"}, timeout=60
    )
    assert schema.status_code == 200, schema.text[:500]
    (tmp_path / "schema.json").write_bytes(schema.content)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [GENERATOR, "generate", "--path", "schema.json", "--meta", "none", "--output-path", "rcs_client"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "Warning" not in out, out  # every operation and model generated, nothing skipped
    # ruff's long-standing default rules (pyflakes and the error-level pycodestyle ones): undefined names
    # such as the `Unset` of a mishandled body, unused or broken imports. Style rules are the generator's.
    lint = subprocess.run(
        [str(VENV_BIN / "ruff"), "check", "--isolated", "--no-cache", "--select", "E4,E7,E9,F", "rcs_client"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        package = importlib.import_module("rcs_client")
        for module in sorted((tmp_path / "rcs_client").rglob("*.py")):
            name = ".".join(module.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__")
            importlib.import_module(name)  # every module imports
        yield package, token
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "rcs_client" or m.startswith("rcs_client.")]:
            del sys.modules[name]


def _op(tag: str, name: str):
    return importlib.import_module(f"rcs_client.api.{tag}.{name}")


def test_generated_client_drives_the_whole_flow(generated, live_server, simulator, settings, sync_tasks):
    rcs_client, _ = generated
    settings.PUBLIC_BASE_URL = live_server.url
    simulator.configure(read_share=0)
    models = importlib.import_module("rcs_client.models")
    from rcs_client import AuthenticatedClient, Client

    # The token, and a wrong password typed as a 401 Detail.
    anonymous = Client(base_url=live_server.url, raise_on_unexpected_status=True)
    token_create = _op("token", "token_create")
    wrong = token_create.sync(
        client=anonymous, body=models.CredentialsRequest(username="marketer", password="x")
    )
    assert isinstance(wrong, models.Detail)
    got = token_create.sync(
        client=anonymous, body=models.CredentialsRequest(username="marketer", password="correct-horse-9")
    )
    assert isinstance(got, models.Token)
    # The generated client's default prefix (Bearer) is accepted.
    api = AuthenticatedClient(base_url=live_server.url, token=got.token, raise_on_unexpected_status=True)

    provider = _op("providers", "providers_create").sync(
        client=api,
        body=models.GenericRcsProviderRequest.from_dict(
            {
                "kind": "generic_rcs",
                "nickname": "Simulator",
                "sender_id": "acme",
                "config": {
                    "endpoint": f"{simulator.url}/generic/messages",
                    "method": "POST",
                    "auth_type": "none",
                },
            }
        ),
    )
    # A provider is a oneOf discriminated by `kind`: the answer is the kind's own model, config typed.
    assert isinstance(provider, models.GenericRcsProvider), provider
    assert provider.config.endpoint == f"{simulator.url}/generic/messages"
    listed = _op("providers", "providers_list").sync(client=api)
    assert isinstance(listed, models.PaginatedProviderList)
    assert [type(p) for p in listed.results] == [models.GenericRcsProvider]
    bad = _op("providers", "providers_create").sync(
        client=api,
        body=models.GenericRcsProviderRequest.from_dict(
            {"kind": "generic_rcs", "nickname": "", "sender_id": ""}
        ),
    )
    assert isinstance(bad, models.ValidationErrors) and "nickname" in bad.additional_properties
    missing = _op("providers", "providers_retrieve").sync(client=api, id=999999)
    assert isinstance(missing, models.Detail)
    renamed = _op("providers", "providers_partial_update").sync(
        client=api, id=provider.id, body=models.PatchedProviderUpdateRequest(nickname="Simulator one")
    )
    assert isinstance(renamed, models.GenericRcsProvider) and renamed.nickname == "Simulator one"

    template = _op("templates", "templates_create").sync(
        client=api,
        body=models.TemplateRequest.from_dict(
            {
                "provider": provider.id,
                "name": "order_ready",
                "language": "en",
                "content": {"type": "TEXT", "text": "Hello {{1}}, your order is ready", "suggestions": []},
                "sample_values": ["Asha"],
            }
        ),
    )
    assert isinstance(template, models.Template), template

    audience = _op("audiences", "audiences_create").sync(
        client=api, body=models.AudienceRequest(name="Customers", description="")
    )
    assert isinstance(audience, models.Audience) and audience.contact_count == 0
    contacts = _op("audiences", "audiences_contacts_create").sync(
        client=api,
        id=audience.id,
        body=[
            models.ContactRequest(phone="+919812345601"),
            models.ContactRequest(phone="+919812345602"),
        ],
    )
    assert isinstance(contacts, list) and all(isinstance(c, models.Contact) for c in contacts)
    page = _op("audiences", "audiences_contacts_list").sync(client=api, id=audience.id, subscribed=True)
    assert isinstance(page, models.PaginatedContactList) and page.count == 2

    campaign = _op("campaigns", "campaigns_create").sync(
        client=api,
        body=models.CampaignRequest.from_dict(
            {
                "name": "Ready",
                "provider": provider.id,
                "template": template.id,
                "audience": audience.id,
                "placeholder_mapping": [{"source": "literal", "value": "friend"}],
            }
        ),
    )
    assert isinstance(campaign, models.Campaign), campaign
    launched = _op("campaigns", "campaigns_launch_create").sync(client=api, id=campaign.id)
    assert isinstance(launched, models.Campaign)
    again = _op("campaigns", "campaigns_launch_create").sync(client=api, id=campaign.id)
    assert isinstance(again, models.Conflict) and again.status

    retrieve = _op("campaigns", "campaigns_retrieve")
    for _ in range(200):  # poll as an integrator would, until every message has an outcome
        polled = retrieve.sync(client=api, id=campaign.id)
        assert isinstance(polled, models.Campaign)
        if polled.processed_count >= 2:
            break
        time.sleep(0.1)
    assert polled.processed_count == 2, polled
    stats = _op("campaigns", "campaigns_stats_retrieve").sync(client=api, id=campaign.id)
    assert isinstance(stats, models.CampaignStats) and stats.funnel.sent == 2
    messages = _op("messages", "messages_list").sync(client=api, campaign=campaign.id)
    assert isinstance(messages, models.PaginatedMessageList) and messages.count == 2
    assert all(isinstance(m, models.Message) for m in messages.results)
    provider_stats = _op("providers", "providers_stats_retrieve").sync(client=api, id=provider.id)
    assert isinstance(provider_stats, models.Stats)

    send = _op("send", "send_create")
    body = models.SendRequest(template=template.id, to="+919812345603", values=["Asha"])
    first = send.sync_detailed(client=api, body=body, idempotency_key="order-42")
    assert first.status_code == 202 and isinstance(first.parsed, models.Message)
    second = send.sync_detailed(client=api, body=body, idempotency_key="order-42")
    assert second.status_code == 200 and isinstance(second.parsed, models.Message)
    assert second.parsed.id == first.parsed.id and second.headers["Idempotent-Replayed"] == "true"
    too_long = send.sync(client=api, body=body, idempotency_key="k" * 121)
    assert isinstance(too_long, models.ValidationErrors)
