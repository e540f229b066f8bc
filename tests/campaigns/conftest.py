"""Factories for audiences, campaigns and messages (plain functions: explicit, no magic)."""

from __future__ import annotations

import itertools

import pytest

from campaigns.models import Audience, Campaign, Contact
from providers.models import Provider
from templates_app.models import MessageTemplate

_seq = itertools.count(1)


def make_provider(*, url: str = "http://127.0.0.1:9/generic/messages", **kw) -> Provider:
    n = next(_seq)
    defaults = {
        "kind": "generic_rcs",
        "nickname": f"Provider {n}",
        "sender_id": f"sender{n}",
        "config": {"endpoint": url, "method": "POST", "auth_type": "none"},
    }
    defaults.update(kw)
    return Provider.objects.create(**defaults)


def make_template(
    provider: Provider, *, text: str = "Hello {{1}}, your code is {{2}}", **kw
) -> MessageTemplate:
    defaults = {
        "name": f"tmpl{next(_seq)}",
        "content": {"type": "TEXT", "text": text, "suggestions": []},
        "status": MessageTemplate.Status.APPROVED,
    }
    defaults.update(kw)
    return MessageTemplate.objects.create(provider=provider, **defaults)


def make_audience(size: int = 10, *, unsubscribed: int = 0, suffix_start: int = 0) -> Audience:
    audience = Audience.objects.create(name=f"Audience {next(_seq)}")
    Contact.objects.bulk_create(
        [
            Contact(
                audience=audience,
                phone=f"+9198{suffix_start + i:08d}",
                attributes={"name": f"Person {i}"},
                subscribed=i >= unsubscribed,
            )
            for i in range(size)
        ]
    )
    return audience


def make_campaign(*, provider=None, audience=None, size: int = 10, **kw) -> Campaign:
    provider = provider or make_provider()
    template = kw.pop("template", None) or make_template(provider)
    audience = audience or make_audience(size)
    defaults = {
        "name": f"Campaign {next(_seq)}",
        "placeholder_mapping": [
            {"source": "attribute", "value": "name"},
            {"source": "literal", "value": "42"},
        ],
    }
    defaults.update(kw)
    return Campaign.objects.create(provider=provider, template=template, audience=audience, **defaults)


@pytest.fixture
def provider(db):
    return make_provider()


@pytest.fixture
def api(client, marketer):
    """POST /api/conversions/ as a Marketer's token (`key`: an Idempotency-Key)."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=marketer)

    def post(body, key=None):
        headers = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
        if key:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return client.post("/api/conversions/", body, content_type="application/json", **headers)

    return post
