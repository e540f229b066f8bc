"""Quick-start demo providers pointing at the local vendor simulator (idempotent)."""

from __future__ import annotations

from typing import TextIO

from django.db import transaction

from rcsconnect.form_errors import refuse

from .kinds import generic_rcs, jiocx, registry
from .models import Provider
from .services import provider_mark_default
from .validation import checked_provider, dlt_ids

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
    generic, created = save_provider(
        kind="generic_rcs",
        config=config,
        secrets=secrets,
        values={
            "nickname": GENERIC_NICKNAME,
            "sender_id": "demo-sender",
            "sms_fallback": True,
            "sms_sender_id": "DEMOSMS",
            # The demo audience is Indian (+91): SMS fallback there needs DLT registration (fictional IDs).
            "india": True,
            "principal_entity_id": DEMO_PRINCIPAL_ENTITY_ID,
            "dlt_template_ids": [DEMO_DLT_TEMPLATE_ID],
            "enabled": True,
        },
    )
    stdout.write(f"{'Created' if created else 'Updated'} provider {generic.nickname} -> {url}\n")
    config, secrets = jiocx.tool_settings(base_url=f"{url}/jiocx", api_key=SIM_API_KEY)
    jio, created = save_provider(
        kind="jiocx",
        config=config,
        secrets=secrets,
        values={"nickname": JIOCX_NICKNAME, "sender_id": "demo-agent", "enabled": True},
    )
    stdout.write(f"{'Created' if created else 'Updated'} provider {jio.nickname} -> {url}/jiocx\n")
    if not Provider.objects.filter(is_default=True).exists():
        provider_mark_default(provider_id=generic.pk)


def save_provider(*, kind: str, config: dict, secrets: dict, values: dict) -> tuple[Provider, bool]:
    """Create or update the provider named values["nickname"] through providers.validation (the rules
    of the form and the API); raises form_errors.Refused with the form's messages."""
    provider = Provider.objects.filter(nickname=values["nickname"]).first()
    created = provider is None
    provider = provider or Provider(kind=kind)
    provider.kind = kind
    values = dict(values)
    values["dlt_template_ids"], problem = dlt_ids(values.get("dlt_template_ids", []))
    config, secrets, errors = checked_provider(
        kind=registry.get(kind), config=config, secrets=secrets, values=values, instance=provider
    )
    if problem:
        errors = {"dlt_template_ids": [problem], **errors}
    refuse(f"Provider {values['nickname']!r}", errors)
    for key, value in values.items():
        setattr(provider, key, value)
    provider.config, provider.secrets, provider.archived_at = config, secrets, None
    provider.save()
    return provider, created
