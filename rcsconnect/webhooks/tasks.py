"""Thin django-q2 tasks: ids in, the delivery module does the work."""

from __future__ import annotations

from datetime import datetime

from . import delivery


def webhook_deliver_task(delivery_id: int, at: str | None = None) -> str:
    """`at`: the sweeper's clock when it found the delivery due (ISO 8601)."""
    now = datetime.fromisoformat(at) if at else None
    return delivery.webhook_deliver(delivery_id=delivery_id, now=now)


def webhook_retry_due_task() -> int:
    """Every minute (a Schedule from the migrations): attempts whose backoff has run out."""
    return delivery.webhook_retry_due()
