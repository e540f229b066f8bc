"""Payload fixtures: every template content type, rendered with its sample values, as each provider kind
sends it (tests/templates_app/fixtures/payloads/<kind>/<type>.json). Regenerate with RCS_WRITE_FIXTURES=1
after an intended change of a kind's wire shape, and review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.urls import reverse

from providers.models import Provider
from templates_app.services import preview_request

from .conftest import CONTENT_TYPES, FIXTURES, load_fixture

KINDS = {
    "generic_rcs": {"method": "POST", "endpoint": "https://rcs.example.com/v1/messages", "auth_type": "none"},
    "jiocx": {"base_url": "https://api.jiocx.example.com/", "click_tracking": "off"},
}


def kind_provider(kind: str, **extra) -> Provider:
    return Provider(
        kind=kind,
        nickname=f"tmpl {kind}",
        sender_id="acme-agent",
        config=KINDS[kind],
        callback_token=f"{kind}-token",
        **extra,
    )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", CONTENT_TYPES)
def test_payload_fixture(kind, name, db):
    data = load_fixture(name)
    provider = kind_provider(kind)
    request = preview_request(provider=provider, content=data["content"], values=data["values"])
    path = FIXTURES / "payloads" / kind / f"{name}.json"
    if os.environ.get("RCS_WRITE_FIXTURES"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(request, indent=2, ensure_ascii=False) + "\n")
    assert request == json.loads(Path(path).read_text())


def test_builder_payload_tab_shows_the_generic_rcs_request(marketer_client, db):
    provider = kind_provider("generic_rcs")
    provider.save()
    data = load_fixture("rich_card")
    card = data["content"]["card"]
    post = {
        "provider": provider.pk,
        "format": "RICH_CARD",
        "c.RICH_CARD.orientation": "HORIZONTAL",
        "c.RICH_CARD.image_alignment": "RIGHT",
        "c.RICH_CARD.card.title": card["title"],
        "c.RICH_CARD.card.description": card["description"],
        **{f"c.RICH_CARD.card.media.{k}": v for k, v in card["media"].items()},
        **{f"c.RICH_CARD.card.suggestions.0.{k}": v for k, v in card["suggestions"][0].items()},
        **{f"samples.{i}": v for i, v in enumerate(data["values"])},
    }
    answer = marketer_client.post(reverse("templates_app:payload"), post).json()
    assert answer["errors"] == {}
    expected = json.loads((FIXTURES / "payloads" / "generic_rcs" / "rich_card.json").read_text())
    assert answer["request"]["json"]["rcsContent"] == expected["json"]["rcsContent"]
