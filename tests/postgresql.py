"""Tests that need PostgreSQL (row locking, concurrent connections, a server that drops connections)."""

from __future__ import annotations

import pytest


def postgresql_only(reason: str):
    """An autouse fixture for a module whose tests need PostgreSQL: they skip, with `reason`, where
    the suite runs on another database (CI runs it on both). Use as `needs_postgres = postgresql_only(..)`."""

    @pytest.fixture(autouse=True)
    def needs_postgres():
        from django.db import connection

        if connection.vendor != "postgresql":
            pytest.skip(reason)

    return needs_postgres
