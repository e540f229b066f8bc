"""django-q2 tasks: take ids, call the service."""

from __future__ import annotations

from .services import test_send_run


def send_test(test_send_id: int) -> str:
    return test_send_run(test_send_id=test_send_id).status
