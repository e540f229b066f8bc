"""Retry delays (WIRE.md 1.3): exponential backoff with full jitter, Retry-After honoured."""

from __future__ import annotations

import random

from django.conf import settings


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after `attempts` failed ones (1 = the first attempt failed)."""
    cap = min(settings.RCS_RETRY_MAX_SECONDS, settings.RCS_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    delay = random.uniform(0, cap)
    if retry_after is not None:
        # The vendor said when: never earlier, plus a little jitter so retries do not arrive together.
        delay = max(float(retry_after), 0) + random.uniform(0, min(1.0, cap))
    return delay
