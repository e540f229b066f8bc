"""rcsconnect.db.bulk_update: the same result as Django's bulk_update, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaigns.models import Message
from rcsconnect.db import bulk_update
from tests.api.factories import make_message

pytestmark = pytest.mark.django_db


def test_writes_the_listed_fields_of_every_object_and_nothing_else(double_provider):
    first = make_message(double_provider, status="sent", error_code="E1")
    second = make_message(double_provider, status="sent", sent_at=datetime(2026, 1, 1, tzinfo=UTC))
    untouched = make_message(double_provider, status="sent")
    delivered_at = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    first.status, first.delivered_at, first.error_code = "delivered", delivered_at, ""
    second.status, second.sent_at, second.error_message = "failed", None, 'l\'échec "quoted"'
    first.to = second.to = "+19999999999"  # changed in memory, not listed: stays as stored

    bulk_update([first, second], ["status", "delivered_at", "error_code", "sent_at", "error_message"])

    rows = {m.pk: m for m in Message.objects.all()}
    stored = rows[first.pk]
    assert (stored.status, stored.delivered_at, stored.error_code) == ("delivered", delivered_at, "")
    assert (rows[second.pk].status, rows[second.pk].sent_at) == ("failed", None)
    assert rows[second.pk].error_message == 'l\'échec "quoted"'
    assert rows[first.pk].to != "+19999999999" and rows[second.pk].to != "+19999999999"
    assert rows[untouched.pk].status == "sent"


def test_nothing_to_write_is_fine(db):
    bulk_update([], ["status"])
