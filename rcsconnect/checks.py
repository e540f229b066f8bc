"""System checks for configuration that would otherwise fail late, at send time."""

from django.conf import settings
from django.core.checks import Error, Tags, register


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
