"""`manage.py setup` and plain `migrate` leave the database cache's table in place (qcluster needs it)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

DB_CACHE = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "rcs_cache"}}


def _tables() -> list[str]:
    with connection.cursor() as cursor:
        return connection.introspection.table_names(cursor)


@pytest.mark.django_db(transaction=True)
@override_settings(CACHES=DB_CACHE)
def test_plain_migrate_creates_the_cache_table():
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS rcs_cache")
    assert "rcs_cache" not in _tables()
    call_command("migrate", interactive=False, verbosity=0)
    assert "rcs_cache" in _tables()


@pytest.mark.django_db(transaction=True)
@override_settings(CACHES=DB_CACHE)
def test_setup_runs_every_step():
    out = io.StringIO()
    call_command("setup", "--no-static", stdout=out)
    assert "migrate" in out.getvalue() and "createcachetable" in out.getvalue()
    assert "rcs_cache" in _tables()
