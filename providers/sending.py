"""Send one message through a provider: auth headers, one HTTP request, classification.

`send_message` is what Send Test and `provider_check` call; the sending engine calls
`send_message_async`, the same steps on an asyncio loop. It never raises for
a vendor or transport problem: the answer is always a `SendAttempt` whose `result` says sent,
failed (with a code) or retry. Our own auth problems (token endpoint down, credentials refused)
and a blocked destination are RETRY with `provider_unhealthy`: the message stays queued.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

import requests

from rcsconnect.http import BlockedAddressError
from rcsconnect.logging import MASK, SECRET_NAMES, redact, secret_forms

from .auth import AuthError
from .headers import headers_resolved, secret_header_names
from .kinds.base import Outcome, PreparedRequest, ProviderKind, SendResult

if TYPE_CHECKING:
    from rcsconnect.http import AsyncOutbound

    from .content import OutboundMessage
    from .models import Provider

RESPONSE_BODY_MAX = 4000
# What a send can raise when the vendor could not be reached (classified as a transport result).
TRANSPORT_ERRORS = (requests.RequestException, BlockedAddressError, OSError)
# Header names that carry credentials even when a kind does not list them (user-configured headers).
_SECRET_HEADER = re.compile(r"auth|token|secret|key|password|signature|cookie", re.IGNORECASE)


@dataclass(frozen=True)
class SendAttempt:
    request: PreparedRequest  # auth headers included: mask with `masked()` before showing or storing
    status_code: int | None
    response_body: str
    result: SendResult
    elapsed: float  # seconds


def send_message(
    provider: Provider, message: OutboundMessage, *, session: requests.Session, record_health: bool = True
) -> SendAttempt:
    """Build, authenticate and send one message; refresh the OAuth token once on 401/403.

    `record_health=False`: the caller records the provider's health from the result itself
    (`record_provider_health`), as the engine does outside the thread that sends, which never
    touches the database.
    """
    started = time.monotonic()
    kind: ProviderKind = provider.kind_class(provider)
    prepared = kind.build_request(message)
    attempt = _attempt(kind, prepared, session, refresh=False, started=started)
    if attempt.result.outcome == Outcome.REAUTH:
        attempt = refused_again(_attempt(kind, prepared, session, refresh=True, started=started))
    if record_health:
        record_provider_health(provider, attempt.result)
    return attempt


async def send_message_async(
    provider: Provider,
    message: OutboundMessage,
    *,
    client: AsyncOutbound,
    session: requests.Session,
    resend_on_reauth: bool = True,
) -> SendAttempt:
    """`send_message` for the sending engine's event loop (health is never recorded here).

    The same request, credentials and classification; the HTTP call goes through `client`. Auth
    headers at hand in memory are used on the loop; when they need I/O (the shared cache, the token
    endpoint) they are fetched with the blocking `session` in a worker thread.

    `resend_on_reauth=False`: a 401/403 comes back as it is (REAUTH), not resent with a fresh token
    at once; the engine refreshes the token (`refresh_credentials`) and books the resend like any
    other send, so the rate counts it. `refused_again` reads the outcome of that resend.
    """
    started = time.monotonic()
    kind: ProviderKind = provider.kind_class(provider)
    prepared = kind.build_request(message)
    attempt = await _attempt_async(kind, prepared, client, session, refresh=False, started=started)
    if attempt.result.outcome == Outcome.REAUTH and resend_on_reauth:
        attempt = refused_again(
            await _attempt_async(kind, prepared, client, session, refresh=True, started=started)
        )
    return attempt


def credentials_at_hand(provider: Provider, *, refused: dict[str, str] | None = None) -> bool:
    """Whether a send can be authenticated now without I/O (no cache read, no token request); given
    the headers of a request the vendor refused, whether the headers at hand are newer ones."""
    at_hand = provider.kind_class(provider).auth_headers_at_hand()
    if at_hand is None:
        return False
    return refused is None or any(refused.get(name) != value for name, value in at_hand.items())


async def refresh_credentials(
    provider: Provider, *, session: requests.Session, refresh: bool = False
) -> SendResult | None:
    """Bring the provider's auth headers into memory, in a worker thread (the shared cache, the token
    endpoint); `refresh=True` forces a new token (the vendor refused the one we had). None when they
    are there now; else the RETRY result a send would get (our own problem, the message stays queued)."""
    kind: ProviderKind = provider.kind_class(provider)
    fetch = partial(_closing_connections, partial(kind.auth_headers, session, refresh=refresh))
    try:
        await asyncio.get_running_loop().run_in_executor(None, fetch)
    except (AuthError, BlockedAddressError) as exc:
        return _no_credentials_result(exc)
    return None


def refused_again(attempt: SendAttempt) -> SendAttempt:
    if attempt.result.outcome != Outcome.REAUTH:
        return attempt
    # Still refused with a fresh token: treat as a dispatch error (WIRE.md 1.3).
    return replace(
        attempt,
        result=SendResult(
            Outcome.RETRY,
            error_code="auth",
            error_message="Refused again after a token refresh.",
            provider_unhealthy=True,
        ),
    )


def _attempt(
    kind: ProviderKind, prepared: PreparedRequest, session: requests.Session, *, refresh: bool, started: float
) -> SendAttempt:
    try:
        auth = kind.auth_headers(session, refresh=refresh)
    except (AuthError, BlockedAddressError) as exc:
        return _no_credentials(prepared, exc, started)
    request = replace(prepared, headers={**prepared.headers, **auth})
    response: requests.Response | None = None
    error: BaseException | None = None
    try:
        # The factory's sessions have a lean path for JSON calls (rcsconnect.http.OutboundSession).
        if send_json := getattr(session, "send_json", None):
            response = send_json(
                request.method,
                request.url,
                headers=request.headers,
                json=request.json,
                follow_redirects=kind.follow_redirects,
            )
        else:
            response = session.request(
                request.method, request.url, headers=request.headers, json=request.json
            )
    except TRANSPORT_ERRORS as exc:
        error = exc
    return _answered(kind, request, response, error, started)


async def _attempt_async(
    kind: ProviderKind,
    prepared: PreparedRequest,
    client: AsyncOutbound,
    session: requests.Session,
    *,
    refresh: bool,
    started: float,
) -> SendAttempt:
    auth = None if refresh else kind.auth_headers_at_hand()
    if auth is None:
        fetch = partial(_closing_connections, partial(kind.auth_headers, session, refresh=refresh))
        try:
            auth = await asyncio.get_running_loop().run_in_executor(None, fetch)
        except (AuthError, BlockedAddressError) as exc:
            return _no_credentials(prepared, exc, started)
    request = replace(prepared, headers={**prepared.headers, **auth})
    response: requests.Response | None = None
    error: BaseException | None = None
    try:
        response = await client.send_json(
            request.method,
            request.url,
            headers=request.headers,
            json=request.json,
            follow_redirects=kind.follow_redirects,
        )
    except TRANSPORT_ERRORS as exc:
        error = exc
    return _answered(kind, request, response, error, started)


def _closing_connections(fetch: Any) -> Any:
    """`fetch()` in an executor thread, then that thread's database connections closed: a token fetch
    uses the shared cache (the database cache by default), and the loop's executor threads end with
    the send loop; their connections would otherwise stay open on the server. Fetches are rare (once
    per token lifetime), so reconnecting each time costs nothing that matters."""
    from django.db import connections

    try:
        return fetch()
    finally:
        connections.close_all()


def _no_credentials(prepared: PreparedRequest, exc: Exception, started: float) -> SendAttempt:
    return SendAttempt(prepared, None, "", _no_credentials_result(exc), time.monotonic() - started)


def _no_credentials_result(exc: Exception) -> SendResult:
    """Our own problem, not the message's: it stays queued and the provider is flagged unhealthy."""
    code = "blocked" if isinstance(exc, BlockedAddressError) else "auth"
    return SendResult(Outcome.RETRY, error_code=code, error_message=str(exc), provider_unhealthy=True)


def _answered(
    kind: ProviderKind,
    request: PreparedRequest,
    response: requests.Response | None,
    error: BaseException | None,
    started: float,
) -> SendAttempt:
    result = kind.classify(response, error)
    # A vendor may echo the request back: what is kept or shown of its answer carries no credential.
    secrets = credential_values(kind, request)
    body = redact(response.text[:RESPONSE_BODY_MAX], secrets) if response is not None else ""
    if result.error_message:
        result = replace(result, error_message=redact(result.error_message, secrets))
    status = response.status_code if response is not None else None
    return SendAttempt(request, status, body, result, time.monotonic() - started)


_NOT_SECRET_HEADERS = frozenset({"content-type", "accept", "user-agent", "content-length"})


def credential_values(
    kind: ProviderKind | type[ProviderKind], request: PreparedRequest | None = None, *, headers: bool = True
) -> tuple:
    """What must never be shown back: the provider's secrets, its Basic user:password, its
    configured header values and the values of the request's own headers (auth included)."""
    provider = getattr(kind, "provider", None)
    values = [str(v) for v in ((getattr(provider, "secrets", None) or {}).values()) if isinstance(v, str)]
    config = (getattr(provider, "config", None) or {}) if provider is not None else {}
    if provider is not None:
        values += kind.credential_pairs(config, provider.secrets or {})
    if headers:
        values += list(headers_resolved(config, getattr(provider, "secrets", None) or {}).values())
    else:
        secret_names = secret_header_names(config)
        resolved = headers_resolved(config, getattr(provider, "secrets", None) or {})
        values += [v for k, v in resolved.items() if k.lower() in secret_names]
    if request is not None:
        values += [str(v) for k, v in request.headers.items() if k.lower() not in _NOT_SECRET_HEADERS]
    return tuple(v for v in values if len(v) >= 4)


def health_change(provider: Provider, result: SendResult) -> bool:
    """Whether this result changes what we know of the provider's health."""
    return result.provider_unhealthy or (
        result.outcome == Outcome.SENT and provider.health != provider.Health.HEALTHY
    )


def record_provider_health(provider: Provider, result: SendResult) -> None:
    if not health_change(provider, result):
        return
    if result.provider_unhealthy:
        reason = f"{result.error_code}: {result.error_message}" if result.error_message else result.error_code
        provider.set_health(provider.Health.UNHEALTHY, reason)
    else:
        provider.set_health(provider.Health.HEALTHY, "")


def masked(request: PreparedRequest, kind: ProviderKind | type[ProviderKind]) -> dict[str, Any]:
    """The request as shown in the inspector: method, URL, headers and body with secrets masked."""
    provider = getattr(kind, "provider", None)
    keys = {k.lower() for k in kind.redaction_keys} | set(SECRET_NAMES)
    keys |= secret_header_names(getattr(provider, "config", None) or {})
    secret_values = _secret_values(kind)
    headers = {}
    for name, value in request.headers.items():
        if name.lower() in keys or _SECRET_HEADER.search(name):
            headers[name] = _mask_auth(value)
        else:
            headers[name] = _scrub(value, secret_values)
    return {
        "method": request.method,
        "url": _scrub(request.url, secret_values),
        "headers": headers,
        "json": _mask_json(request.json, keys, secret_values),
    }


def _mask_auth(value: str) -> str:
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() in ("basic", "bearer"):
        return f"{scheme} {MASK}"
    return MASK


def _secret_values(kind: ProviderKind | type[ProviderKind]) -> tuple[str, ...]:
    return secret_forms(credential_values(kind, headers=False))


def _scrub(text: str, secret_values: tuple[str, ...]) -> str:
    for value in secret_values:
        text = text.replace(value, MASK)
    return text


def _mask_json(data: Any, keys: set[str], secret_values: tuple[str, ...]) -> Any:
    if isinstance(data, dict):
        return {
            k: (MASK if str(k).lower() in keys else _mask_json(v, keys, secret_values))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_mask_json(v, keys, secret_values) for v in data]
    if isinstance(data, str):
        return _scrub(data, secret_values)
    return data
