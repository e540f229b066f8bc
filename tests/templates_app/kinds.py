"""A tiny provider kind for template tests: echoes neutral content in its own wire shape.

The real Generic RCS / JioCX payloads are checked in test_payloads.py when those kinds are installed.
"""

from __future__ import annotations

import pytest

from providers.kinds import registry
from providers.kinds.base import PreparedRequest, ProviderKind, TemplateStatus
from providers.models import Provider

SLUG = "tmpl_echo"


class EchoKind(ProviderKind):
    slug = SLUG
    name = "Echo (tests)"
    supports_template_status = True
    # The vendor's template status table for tests: name -> (status, reason); a missing name is unknown.
    vendor_statuses: dict[str, tuple[str, str]] = {}

    def build_request(self, message):
        return PreparedRequest(
            method="POST",
            url=self.provider.config.get("endpoint", "https://vendor.example/send"),
            headers={"Content-Type": "application/json", "X-Apikey": "write-only-secret"},
            json={
                "msgId": message.msg_id,
                "to": message.to,
                "callbackURL": message.callback_url,
                "content": message.content,
            },
        )

    def template_statuses(self, session, names):
        url = self.provider.config.get("templates_url")
        if url:  # a real vendor endpoint (the simulator's GET /templates/status)
            response = session.get(url, params=[("name", n) for n in names])
            response.raise_for_status()
            return [
                TemplateStatus(t["name"], t["status"], t.get("reason", ""))
                for t in response.json()["templates"]
            ]
        return [TemplateStatus(n, *self.vendor_statuses[n]) for n in names if n in self.vendor_statuses]


@pytest.fixture
def echo_kind(settings):
    settings.RCS_PROVIDER_KINDS = [f"{__name__}.EchoKind"]
    registry.reset()
    EchoKind.vendor_statuses = {}
    yield EchoKind
    registry.reset()


@pytest.fixture
def provider(db, echo_kind) -> Provider:
    return Provider.objects.create(kind=SLUG, nickname="Echo", sender_id="echo-sender", is_default=True)
