"""django-q2 tasks: thin wrappers taking ids, enqueued with transaction.on_commit."""

from __future__ import annotations

from .services import send_test_run


def run_send_test(send_test_id: int) -> None:
    send_test_run(send_test_id=send_test_id)
