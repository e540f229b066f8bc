from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from providers.models import Provider


def _raw_secrets(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM providers_provider WHERE id = %s", [pk])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_secret_is_ciphertext_in_the_database():
    provider = Provider.objects.create(
        kind="generic_rcs", nickname="p1", sender_id="agent", secrets={"password": "hunter2-plain"}
    )
    raw = _raw_secrets(provider.pk)
    assert raw.startswith("fernet:")
    assert "hunter2-plain" not in raw
    assert Provider.objects.get(pk=provider.pk).secrets == {"password": "hunter2-plain"}


@pytest.mark.django_db
def test_old_keys_still_decrypt_after_rotation(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    provider = Provider.objects.create(
        kind="generic_rcs", nickname="p2", sender_id="agent", secrets={"api_key": "k-123"}
    )
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    assert Provider.objects.get(pk=provider.pk).secrets == {"api_key": "k-123"}

    from django.core.management import call_command

    call_command("rotate_secrets", verbosity=0)
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert Provider.objects.get(pk=provider.pk).secrets == {"api_key": "k-123"}
