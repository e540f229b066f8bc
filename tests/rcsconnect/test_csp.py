"""The Content-Security-Policy header, and templates it would break: no inline script without a nonce."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.api.factories import make_campaign, make_provider


@pytest.mark.django_db
def test_pages_send_the_policy_and_the_inline_script_carries_its_nonce(marketer_client):
    provider = make_provider()
    make_campaign(provider=provider)
    for url in (reverse("campaigns:list"), reverse("providers:edit", args=[provider.pk])):
        response = marketer_client.get(url)
        policy = response["Content-Security-Policy"]
        assert (
            "script-src 'self' 'nonce-" in policy
            and "'unsafe-inline'" not in policy.split("style-src-attr")[0]
        )
        nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
        for tag in re.findall(r"<script[^>]*>", response.content.decode()):
            assert "src=" in tag or f'nonce="{nonce}"' in tag, tag


def test_no_template_has_an_inline_event_handler_or_a_bare_inline_script():
    roots = [
        Path(settings.BASE_DIR) / app for app in ("rcsconnect", "providers", "templates_app", "campaigns")
    ]
    for path in (p for root in roots for p in root.rglob("*.html")):
        text = path.read_text()
        assert not re.search(r"\son(click|submit|change|load|input)=", text), path
        for tag in re.findall(r"<script[^>]*>", text):
            assert "src=" in tag or "nonce=" in tag, (path, tag)
        assert "<style" not in text or "nonce=" in text, path
