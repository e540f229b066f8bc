"""Encrypted model fields for secrets (Fernet from `cryptography`).

`settings.FIELD_ENCRYPTION_KEYS` is a list: the first key encrypts, every key decrypts, so a key
can be rotated by putting the new one first and re-saving rows (`manage.py rotate_secrets`).
Stored values are `fernet:`-prefixed tokens; the database never sees the plaintext.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction

PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: secrets cannot be stored.")
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    if not token.startswith(PREFIX):
        raise ValueError("Not an encrypted value.")
    try:
        return fernet().decrypt(token[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a stored token with the current first key."""
    return PREFIX + fernet().rotate(token[len(PREFIX) :].encode()).decode()


def rotate_stored_secrets() -> int:
    """Re-encrypt every stored secret of every model with the current first key (`manage.py
    rotate_secrets`); returns how many values were re-encrypted. Each row gets an audit entry naming
    its re-encrypted fields (never a value, clear or encrypted)."""
    from django.apps import apps

    total = 0
    for model in apps.get_models():
        fields = [
            f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField | EncryptedJSONField)
        ]
        if fields:
            total += _rotate_model(model, fields)
    return total


def _rotate_model(model: type[models.Model], fields: list[models.Field]) -> int:
    from django.db import connection

    from .audit import audit_action

    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    rotated: dict[object, list[str]] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        for field in fields:
            column = connection.ops.quote_name(field.column)
            # Raw SQL: the stored tokens as they are, no decrypting into model instances.
            cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {column} LIKE %s", [PREFIX + "%"])  # noqa: S608
            for row_pk, value in cursor.fetchall():
                cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s", [rotate(value), row_pk])  # noqa: S608
                rotated.setdefault(row_pk, []).append(field.name)
        for instance in model._default_manager.filter(pk__in=list(rotated)).order_by("pk"):
            audit_action(instance, "rotate_secrets", fields=rotated[instance.pk])
    return sum(len(names) for names in rotated.values())


class EncryptedTextField(models.TextField):
    """A text field stored encrypted; empty string stays empty (means "not set")."""

    description = "Text encrypted at rest"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        if value.startswith(PREFIX):
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value in (None, "") or not value.startswith(PREFIX):
            return value
        return decrypt(value)


class EncryptedJSONField(models.TextField):
    """A JSON value (dict or list) stored as encrypted text."""

    description = "JSON encrypted at rest"

    def get_prep_value(self, value):
        import json

        if value is None:
            return None
        return encrypt(json.dumps(value, separators=(",", ":")))

    def from_db_value(self, value, expression, connection):
        import json

        if value in (None, ""):
            return None if value is None else {}
        return json.loads(decrypt(value))

    def to_python(self, value):
        import json

        if isinstance(value, str):
            return json.loads(value) if value else {}
        return value
