"""The provider and message every payload fixture is built from (providers/fixtures/<kind>/*.json)."""

from __future__ import annotations

import json
from pathlib import Path

from providers.content import OutboundMessage, SmsFallback, TemplateRef
from providers.models import Provider

FIXTURES = Path(__file__).resolve().parents[2] / "providers" / "fixtures"
CONTENT_FIXTURES = ("text", "rich_card", "carousel", "media")

CONFIGS = {
    "generic_rcs": {
        "method": "POST",
        "endpoint": "https://rcs.example.com/v1/messages",
        "auth_type": "none",
        "headers": [{"name": "X-Tenant", "value": "acme"}],
        "rcs_params": [{"name": "brand", "value": "acme"}],
    },
    "jiocx": {
        "base_url": "https://api.jiocx.example.com/",
        "click_tracking": "off",
        "rcs_params": [{"name": "brand", "value": "acme"}],
    },
}


def fixture(kind: str, name: str) -> dict:
    return json.loads((FIXTURES / kind / f"{name}.json").read_text())


def payload_provider(kind: str) -> Provider:
    """An unsaved provider with India SMS fallback, one RCS body parameter and one header."""
    return Provider(
        kind=kind,
        nickname=f"fixture {kind}",
        sender_id="acme-agent",
        config=CONFIGS[kind],
        secrets={},
        sms_fallback=True,
        sms_sender_id="ACMEIN",
        sms_params=[{"name": "route", "value": "transactional"}],
        india=True,
        principal_entity_id="1201159100000000001",
        dlt_template_ids=["1207161000000000001"],
    )


def payload_message(data: dict) -> OutboundMessage:
    template = data.get("template")
    return OutboundMessage(
        msg_id="rcs-7f3a9c-000001",
        to="+919812345678",
        content=data["content"],
        callback_url="https://dash.example.com/callbacks/cb-token/",
        custom_params=[{"name": "campaign", "value": "diwali"}],
        sms=SmsFallback(body="Your order shipped: track at example.com/t/1")
        if data.get("sms", True)
        else None,
        template=TemplateRef(**template) if template else None,
        campaign_ref="campaign-12",
    )
