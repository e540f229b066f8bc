"""SQLite under two connections, as the live server's callback thread and a test (or the web server and the
task cluster) use it: a reader is never refused while another connection holds a write transaction.

The test database used to be SQLite's shared-cache in-memory database, where locks are per table and a
reader meeting a writer's open transaction fails at once with "database table is locked" (SQLITE_LOCKED:
neither the busy timeout nor WAL apply there). That is what failed the Send Test end-to-end test under load
(the callback thread storing events while the test polled them). The settings give the test database a
file, so tests run under the locking of the real database: WAL (readers see the last commit) and a busy
timeout with IMMEDIATE transactions (writers wait their turn).
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from providers.models import ProviderEvent
from tests.api.factories import make_provider

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's locking")


def _event(provider, msg_id: str) -> ProviderEvent:
    return ProviderEvent(
        provider=provider, msg_id=msg_id, channel="RCS", status="delivered", dedupe_key=f"key-{msg_id}"
    )


def test_the_test_database_is_a_file_in_wal_mode(db):
    assert not connection.is_in_memory_db()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def test_a_reader_is_not_refused_while_another_connection_holds_a_write_transaction(transactional_db):
    provider = make_provider()
    _event(provider, "committed").save()
    written, release, errors = threading.Event(), threading.Event(), []

    def writer() -> None:
        try:
            with transaction.atomic():  # as the callback endpoint stores a callback's events
                _event(provider, "open").save()
                written.set()
                release.wait()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            written.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert written.wait(30)
        assert not errors, errors
        # The poll of the Send Test page and test: the committed rows, not the open transaction's.
        seen = set(ProviderEvent.objects.values_list("msg_id", flat=True))
        assert seen == {"committed"}
    finally:
        release.set()
        thread.join()
    assert not errors, errors
    assert set(ProviderEvent.objects.values_list("msg_id", flat=True)) == {"committed", "open"}
