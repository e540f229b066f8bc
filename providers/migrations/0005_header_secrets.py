"""Header values that are secret by name (Authorization, *api-key*, *apikey*, *token*, *secret*) move
from Provider.config (plain JSON) into Provider.secrets (encrypted); see providers/headers.py."""

from django.db import migrations


def move_secret_headers(apps, schema_editor):
    from providers.headers import HEADERS, headers_store

    Provider = apps.get_model("providers", "Provider")
    for provider in Provider.objects.all():
        config = dict(provider.config or {})
        rows = config.get(HEADERS)
        if not rows:
            continue
        new_rows, secrets = headers_store(rows, dict(provider.secrets or {}))
        if new_rows != rows:
            config[HEADERS] = new_rows
            provider.config, provider.secrets = config, secrets
            provider.save(update_fields=["config", "secrets"])


def restore_secret_headers(apps, schema_editor):
    from providers.headers import HEADERS, headers_resolved

    Provider = apps.get_model("providers", "Provider")
    for provider in Provider.objects.all():
        config = dict(provider.config or {})
        if not config.get(HEADERS):
            continue
        resolved = headers_resolved(config, provider.secrets or {})
        config[HEADERS] = [{"name": name, "value": value} for name, value in resolved.items()]
        provider.config = config
        provider.secrets = {
            k: v for k, v in (provider.secrets or {}).items() if not str(k).startswith("header:")
        }
        provider.save(update_fields=["config", "secrets"])


class Migration(migrations.Migration):
    dependencies = [("providers", "0004_callback_require_timestamp")]

    operations = [migrations.RunPython(move_secret_headers, restore_secret_headers)]
