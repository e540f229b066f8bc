"""Webhook workflows: the one validator (URL and events), create with a generated secret, update,
rotate the secret. The dashboard form, the API serializer and the admin all call these."""

from __future__ import annotations

import secrets as secrets_module
from urllib.parse import urlsplit

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from rcsconnect.http import BlockedAddressError, check_host

from .models import EventType, Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that marks the value, not a secret
EVENT_VALUES = tuple(EventType.values)


def new_secret() -> str:
    return SECRET_PREFIX + secrets_module.token_urlsafe(32)


def webhook_validate(*, name: str, url: str, events: list[str]) -> dict[str, list[str]]:
    """Field errors for a webhook's settings (empty: valid). The URL must pass the outbound address
    guard now, so a private address is refused on save rather than on every delivery."""
    errors: dict[str, list[str]] = {}
    if not (name or "").strip():
        errors["name"] = ["Give the webhook a name."]
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors["url"] = ["Enter an http:// or https:// address."]
    else:
        parts = urlsplit(url)
        if parts.username or parts.password:
            errors["url"] = ["Leave credentials out of the address; deliveries are signed instead."]
        else:
            try:
                check_host(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
            except BlockedAddressError as exc:
                errors["url"] = [f"{exc} Ask an operator to allow-list it (OUTBOUND_ALLOW_HOSTS)."]
            except (OSError, UnicodeError):
                errors["url"] = [f"{parts.hostname} cannot be resolved."]
    if not isinstance(events, list | tuple) or not events:
        errors["events"] = ["Choose at least one event."]
    else:
        unknown = [str(e) for e in events if e not in EVENT_VALUES]
        if unknown:
            errors["events"] = [f"Unknown event {', '.join(unknown)}; choose from {', '.join(EVENT_VALUES)}."]
    return errors


def _clean_events(events: list[str]) -> list[str]:
    return [e for e in EVENT_VALUES if e in events]  # the canonical order, no repeats


def webhook_create(
    *, name: str, url: str, events: list[str], is_active: bool = True, user: User | None = None
) -> Webhook:
    """A new webhook with a generated secret (read it from `.secret` once, to show it)."""
    errors = webhook_validate(name=name, url=url, events=events)
    if errors:
        raise ValidationError(errors)
    return Webhook.objects.create(
        name=name.strip(),
        url=url.strip(),
        events=_clean_events(events),
        is_active=is_active,
        secret=new_secret(),
        created_by=user if user and user.is_authenticated else None,
    )


def webhook_update(*, webhook: Webhook, **changes) -> Webhook:
    """Change name, url, events or is_active (any subset); the secret only through rotation."""
    allowed = {"name", "url", "events", "is_active"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"not changeable here: {', '.join(sorted(unknown))}")
    merged = {"name": webhook.name, "url": webhook.url, "events": webhook.events, **changes}
    errors = webhook_validate(name=merged["name"], url=merged["url"], events=merged["events"])
    if errors:
        raise ValidationError(errors)
    webhook.name, webhook.url = merged["name"].strip(), merged["url"].strip()
    webhook.events = _clean_events(merged["events"])
    if "is_active" in changes:
        webhook.is_active = bool(changes["is_active"])
    webhook.save(update_fields=["name", "url", "events", "is_active", "updated_at"])
    return webhook


def webhook_rotate_secret(*, webhook_id: int) -> str:
    """A new secret for the webhook, effective for every attempt from now on; returned to show once."""
    secret = new_secret()
    with transaction.atomic():
        webhook = Webhook.objects.select_for_update().get(pk=webhook_id)
        webhook.secret = secret
        webhook.secret_rotated_at = timezone.now()
        webhook.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    return secret
