"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from rcsconnect.fields import PREFIX, EncryptedJSONField, EncryptedTextField, rotate


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the current first key (run after adding a new key)."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = [
                f
                for f in model._meta.concrete_fields
                if isinstance(f, EncryptedTextField | EncryptedJSONField)
            ]
            if not fields:
                continue
            table = connection.ops.quote_name(model._meta.db_table)
            pk = connection.ops.quote_name(model._meta.pk.column)
            for field in fields:
                column = connection.ops.quote_name(field.column)
                select = f"SELECT {pk}, {column} FROM {table} WHERE {column} LIKE %s"  # noqa: S608
                update = f"UPDATE {table} SET {column} = %s WHERE {pk} = %s"  # noqa: S608
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(select, [PREFIX + "%"])
                    rows = cursor.fetchall()
                    for row_pk, value in rows:
                        cursor.execute(update, [rotate(value), row_pk])
                    total += len(rows)
        self.stdout.write(f"Re-encrypted {total} stored secret(s).")
