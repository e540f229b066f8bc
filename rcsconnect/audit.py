"""The audit log (django-auditlog): who changed what, when, through any surface.

Creates, changes and deletes of the registered models are recorded by auditlog's signals; lifecycle
actions (launch, pause, resume, cancel, archive, mark default, enable/disable, Send Test, message
retry/resend, `rotate_secrets`) by `audit_action`, called from the services every surface shares.
The actor comes from the request (auditlog's middleware; the API sets it once DRF has
authenticated a token) or is empty for management commands and tasks (shown as "system"). Secret
fields are masked whole: an entry shows that they changed, never their values.
"""

from __future__ import annotations

from typing import Any

MASK = "******"

# "app_label.Model" -> fields whose values are never recorded (only that they changed).
AUDITED: dict[str, tuple[str, ...]] = {
    "providers.Provider": (
        "secrets",
        "callback_hmac_secrets",
        "callback_basic_credentials",
        "callback_token",
    ),
    "templates_app.MessageTemplate": (),
    "campaigns.Audience": (),
    "campaigns.Campaign": (),
    "auth.User": ("password",),
    "auth.Group": (),
}


def mask(value: Any) -> str:
    """auditlog's mask_callable: the whole value hidden (its default keeps half of the string visible)."""
    return MASK


def register_models() -> None:
    """Called from RcsConnectConfig.ready(), once every app is loaded."""
    from auditlog.registry import auditlog
    from django.apps import apps

    for label, secret_fields in AUDITED.items():
        model = apps.get_model(label)
        if auditlog.contains(model):
            continue
        auditlog.register(model, mask_fields=list(secret_fields), mask_callable="rcsconnect.audit.mask")


def set_request_actor(user) -> None:
    """Name the API's token user as the actor (auditlog's middleware ran before DRF authenticated it)."""
    from auditlog.context import auditlog_value

    try:
        context = auditlog_value.get()
    except LookupError:
        return
    if user is not None and user.is_authenticated and context.get("actor") is None:
        context["actor"] = user


def audit_action(instance, action: str, **detail: Any) -> None:
    """Record a lifecycle action on `instance` (launch, pause, mark_default, send_test, ...)."""
    from auditlog.models import LogEntry

    LogEntry.objects.log_create(
        instance,
        force_log=True,
        action=LogEntry.Action.UPDATE,
        changes={"action": [None, action]},
        additional_data={"action": action, **detail},
    )
