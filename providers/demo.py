"""Quick-start demo providers pointing at the local vendor simulator (idempotent)."""

from __future__ import annotations

from typing import TextIO

from django.db import transaction

from .kinds import generic_rcs, jiocx
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
    config, secrets = generic_rcs.tool_settings(
        endpoint=f"{url}/generic/messages",
        auth=generic_rcs.AUTH_OAUTH2,
        client_url=f"{url}/oauth/token",
        client_id=SIM_CLIENT_ID,
        client_secret=SIM_CLIENT_SECRET,
        headers=[{"name": "X-Demo", "value": "rcsconnect"}],
        template_status_url=f"{url}/templates/status",
        rcs_params=[{"name": "source", "value": "demo"}],
    )
    generic, created = Provider.objects.update_or_create(
        nickname=GENERIC_NICKNAME,
        defaults={
            "kind": "generic_rcs",
            "sender_id": "demo-sender",
            "config": config,
            "secrets": secrets,
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
    config, secrets = jiocx.tool_settings(base_url=f"{url}/jiocx", api_key=SIM_API_KEY)
    jio, created = Provider.objects.update_or_create(
        nickname=JIOCX_NICKNAME,
        defaults={
            "kind": "jiocx",
            "sender_id": "demo-agent",
            "config": config,
            "secrets": secrets,
            "enabled": True,
            "archived_at": None,
        },
    )
    stdout.write(f"{'Created' if created else 'Updated'} provider {jio.nickname} -> {url}/jiocx\n")
    if not Provider.objects.filter(is_default=True).exists():
        provider_mark_default(provider_id=generic.pk)
