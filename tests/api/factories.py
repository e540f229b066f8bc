"""Small model builders shared by the API, stats and inbox tests."""

from __future__ import annotations

import itertools

from campaigns.models import Audience, Campaign, Contact, Message
from providers.models import Provider
from templates_app.models import MessageTemplate

_seq = itertools.count(1)


def make_provider(**kw) -> Provider:
    n = next(_seq)
    defaults = {
        "kind": "generic_rcs",
        "nickname": f"Provider {n}",
        "sender_id": f"sender{n}",
        "config": {"endpoint": "https://vendor.example.com/messages", "method": "POST", "auth_type": "none"},
    }
    return Provider.objects.create(**{**defaults, **kw})


def make_template(provider: Provider, **kw) -> MessageTemplate:
    defaults = {
        "name": f"tmpl{next(_seq)}",
        "content": {"type": "TEXT", "text": "Hello {{1}}", "suggestions": []},
        "sample_values": ["Asha"],
        "status": MessageTemplate.Status.APPROVED,
    }
    return MessageTemplate.objects.create(provider=provider, **{**defaults, **kw})


def make_audience(phones=("+15550001001", "+15550001002"), **kw) -> Audience:
    audience = Audience.objects.create(name=kw.pop("name", f"Audience {next(_seq)}"), **kw)
    Contact.objects.bulk_create([Contact(audience=audience, phone=p) for p in phones])
    return audience


def make_campaign(provider: Provider | None = None, **kw) -> Campaign:
    provider = provider or make_provider()
    template = kw.pop("template", None) or make_template(provider)
    audience = kw.pop("audience", None) or make_audience()
    return Campaign.objects.create(
        name=kw.pop("name", f"Campaign {next(_seq)}"),
        provider=provider,
        template=template,
        audience=audience,
        **kw,
    )


def make_message(provider: Provider, campaign: Campaign | None = None, **kw) -> Message:
    n = next(_seq)
    defaults = {"to": f"+1555000{n:04d}", "msg_id": f"test-{n}"}
    return Message.objects.create(provider=provider, campaign=campaign, **{**defaults, **kw})
