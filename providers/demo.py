"""Quick-start demo providers pointing at the local vendor simulator (idempotent)."""

from __future__ import annotations

from typing import TextIO

from django.db import transaction

from .models import Provider
from .services import provider_mark_default

GENERIC_NICKNAME = "Demo RCS (simulator)"
JIOCX_NICKNAME = "Demo JioCX (simulator)"
# The simulator's fixed development credentials (see providers/simulator); not secrets.
DEMO_PRINCIPAL_ENTITY_ID, DEMO_DLT_TEMPLATE_ID = "1101456789012345678", "1107161234567890123"
SIM_CLIENT_ID, SIM_CLIENT_SECRET, SIM_API_KEY = "sim-client", "sim-secret", "sim-api-key"  # noqa: S105


@transaction.atomic
def load(*, simulator_url: str, stdout: TextIO) -> None:
    url = simulator_url.rstrip("/")
    generic, created = Provider.objects.update_or_create(
        nickname=GENERIC_NICKNAME,
        defaults={
            "kind": "generic_rcs",
            "sender_id": "demo-sender",
            "config": {
                "method": "POST",
                "endpoint": f"{url}/generic/messages",
                "auth_type": "oauth2",
                "client_url": f"{url}/oauth/token",
                "client_id": SIM_CLIENT_ID,
                "template_status_url": f"{url}/templates/status",
                "extra_params": [],
                "headers": [{"name": "X-Demo", "value": "rcsconnect"}],
                "rcs_params": [{"name": "source", "value": "demo"}],
            },
            "secrets": {"client_secret": SIM_CLIENT_SECRET},
            "sms_fallback": True,
            "sms_sender_id": "DEMOSMS",
            # The demo audience is Indian (+91): SMS fallback there needs DLT registration (fictional IDs).
            "india": True,
            "principal_entity_id": DEMO_PRINCIPAL_ENTITY_ID,
            "dlt_template_ids": [DEMO_DLT_TEMPLATE_ID],
            "enabled": True,
            "archived_at": None,
        },
    )
    stdout.write(f"{'Created' if created else 'Updated'} provider {generic.nickname} -> {url}\n")
    jio, created = Provider.objects.update_or_create(
        nickname=JIOCX_NICKNAME,
        defaults={
            "kind": "jiocx",
            "sender_id": "demo-agent",
            "config": {"base_url": f"{url}/jiocx", "click_tracking": "off", "click_domain": ""},
            "secrets": {"api_key": SIM_API_KEY},
            "enabled": True,
            "archived_at": None,
        },
    )
    stdout.write(f"{'Created' if created else 'Updated'} provider {jio.nickname} -> {url}/jiocx\n")
    if not Provider.objects.filter(is_default=True).exists():
        provider_mark_default(provider_id=generic.pk)
