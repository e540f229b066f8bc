"""Helpers shared by provider kinds: response reading, Retry-After, timestamps, key-value lists.

Nothing here knows a vendor field name; the kinds own their mapping tables.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django import forms

from .base import Outcome, SendResult

ERROR_MESSAGE_MAX = 300


def follow_redirects_field() -> forms.BooleanField:
    """The opt-in config field `follow_redirects` (read by ProviderKind.follow_redirects)."""
    return forms.BooleanField(
        label="Follow redirects",
        required=False,
        initial=False,
        help_text="Off: a redirect from the vendor fails the attempt. On: redirects are followed, and "
        "credentials and headers are sent only to the endpoint's own origin.",
    )


def kv_list(rows: Any) -> list[dict[str, str]]:
    """Normalise a stored key-value list to [{name, value}], skipping rows without a name."""
    out: list[dict[str, str]] = []
    for row in rows or []:
        if isinstance(row, dict) and str(row.get("name", "")).strip():
            out.append({"name": str(row["name"]).strip(), "value": str(row.get("value", ""))})
    return out


def drop_empty(data: dict[str, Any]) -> dict[str, Any]:
    """The dict without keys whose value is None or an empty string (optional wire fields)."""
    return {k: v for k, v in data.items() if v is not None and v != ""}


def response_json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_timestamp(value: Any) -> datetime | None:
    """Epoch seconds (number or string; milliseconds when too large) or ISO 8601, as aware UTC."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000.0
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def transport_result(error: BaseException) -> SendResult:
    """A transport error (no HTTP answer): always retried with the same msgId."""
    from rcsconnect.http import BlockedAddressError, RedirectRefused

    if isinstance(error, RedirectRefused):  # our configuration, not the message: it stays queued
        return SendResult(
            Outcome.RETRY,
            error_code="redirect",
            error_message=str(error)[:ERROR_MESSAGE_MAX],
            provider_unhealthy=True,
        )
    if isinstance(error, BlockedAddressError):
        return SendResult(
            Outcome.RETRY, error_code="blocked", error_message=str(error), provider_unhealthy=True
        )
    if isinstance(error, requests.Timeout):
        code = "timeout"
    elif isinstance(error, requests.ConnectionError):
        code = "connection"
    else:
        code = "transport"
    return SendResult(Outcome.RETRY, error_code=code, error_message=str(error)[:ERROR_MESSAGE_MAX])


def status_result(response: requests.Response, *, reauth: bool) -> SendResult | None:
    """The outcome decided by the HTTP status alone (WIRE.md 1.3), or None for a 2xx answer.

    `reauth`: the provider authenticates with a token that can be refreshed (401/403 -> REAUTH).
    Without one, 401/403 means our credentials are wrong: the message stays queued and the
    provider is flagged unhealthy (nothing is failed because of our own auth problem).
    """
    code = response.status_code
    if 200 <= code < 300:
        return None
    text = response.text[:ERROR_MESSAGE_MAX] if response.content else ""
    if code == 429:
        return SendResult(
            Outcome.RETRY,
            error_code="429",
            error_message=text,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            throttled=True,
        )
    if code in (401, 403):
        if reauth:
            return SendResult(Outcome.REAUTH, error_code=str(code), error_message=text)
        return SendResult(Outcome.RETRY, error_code="auth", error_message=text, provider_unhealthy=True)
    if code >= 500 or code == 408:
        return SendResult(
            Outcome.RETRY,
            error_code=str(code),
            error_message=text,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    return SendResult(Outcome.FAILED, error_code=str(code), error_message=text)
