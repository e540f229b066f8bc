"""System checks for configuration that would otherwise fail late, at send time."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security)
def check_encryption_keys(app_configs, **kwargs):
    from .fields import fernet

    try:
        fernet()
    except Exception as exc:  # noqa: BLE001 - report any key problem as a check error
        return [Error(str(exc), hint="Generate one with `make env` or see .env.example.", id="rcs.E001")]
    return []


@register()
def check_outbound_allow_list(app_configs, **kwargs):
    from .http import AllowList

    try:
        AllowList.build(tuple(settings.OUTBOUND_ALLOW_HOSTS), tuple(settings.OUTBOUND_ALLOW_NETWORKS))
    except ValueError as exc:
        return [Error(f"OUTBOUND_ALLOW_HOSTS / OUTBOUND_ALLOW_NETWORKS: {exc}", id="rcs.E002")]
    return []


@register()
def check_task_workers(app_configs, **kwargs):
    """Dispatch tasks hold their worker while they send; with none left over, other tasks wait."""
    workers = settings.Q_CLUSTER.get("workers", 1)
    if settings.Q_CLUSTER.get("sync") or workers > settings.RCS_DISPATCHERS:
        return []
    return [
        Warning(
            f"RCS_DISPATCHERS ({settings.RCS_DISPATCHERS}) is not below Q_WORKERS ({workers}): while a "
            "provider sends, its dispatch tasks hold every task worker, so fan-outs, imports and webhook "
            "deliveries wait until sending stops (the dispatch loops apply callback events themselves).",
            hint="Set RCS_DISPATCHERS below Q_WORKERS (its default is Q_WORKERS - 1), or raise Q_WORKERS.",
            id="rcs.W001",
        )
    ]
