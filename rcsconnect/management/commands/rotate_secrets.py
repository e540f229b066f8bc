"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from rcsconnect.fields import rotate_stored_secrets


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the current first key (run after adding a new key)."

    def handle(self, *args, **options):
        total = rotate_stored_secrets()
        self.stdout.write(f"Re-encrypted {total} stored secret(s).")
