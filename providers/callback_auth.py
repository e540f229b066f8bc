"""The platform's callback authentication: the optional HMAC signature (with its timestamp, WIRE.md 3
"Replay window") and Basic credentials stored on the provider. `ProviderKind.authenticate_callback`
defaults to it; it reads only the provider's callback columns (no model import, so the kinds can use it
without an import loop).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings

SIGNATURE_HEADER = "X-RCS-Signature"
TIMESTAMP_HEADER = "X-RCS-Timestamp"


class CallbackAuthError(Exception):
    """The request does not prove it comes from the provider's vendor (answered with 403)."""


def hmac_basic_authenticate(provider: Any, *, body: bytes, headers: Any, now: float | None = None) -> str:
    """Check the optional HMAC signature (with its timestamp, WIRE.md 3 "Replay window") and Basic
    credentials; raise CallbackAuthError on failure. Returns the matched signature ("" unsigned)."""
    secrets = [s for s in provider.callback_hmac_secrets or [] if s]
    stamp = headers.get(TIMESTAMP_HEADER, "").strip()
    if not stamp and provider.callback_require_timestamp:
        raise CallbackAuthError(f"missing {TIMESTAMP_HEADER} header (epoch seconds)")
    signed = body
    if stamp:
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            raise CallbackAuthError(f"malformed {TIMESTAMP_HEADER} header (epoch seconds)")
        tolerance = settings.RCS_CALLBACK_TIMESTAMP_TOLERANCE
        if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
            raise CallbackAuthError(f"{TIMESTAMP_HEADER} is more than {tolerance} s from our clock")
        signed = stamp.encode() + b"." + body
    digest = ""
    if secrets:
        given = headers.get(SIGNATURE_HEADER, "").strip()
        algorithm, _, digest = given.partition("=")
        if algorithm.lower() != "sha256" or not digest:
            raise CallbackAuthError(f"missing or malformed {SIGNATURE_HEADER} header (sha256=<hex>)")
        matched = False
        for secret in secrets:
            expected = hmac.new(str(secret).encode(), signed, hashlib.sha256).hexdigest()
            # As bytes: compare_digest refuses str with non-ASCII characters (a header may hold any).
            matched |= hmac.compare_digest(
                expected.encode(), digest.strip().lower().encode("utf-8", "replace")
            )
        if not matched:
            raise CallbackAuthError("signature does not match")
    credentials = [_credential(c) for c in provider.callback_basic_credentials or []]
    credentials = [c for c in credentials if c]
    if credentials:
        user, password = _basic_auth(headers.get("Authorization", ""))
        matched = False
        for expected_user, expected_password in credentials:
            # Both compares always run: the answer time does not tell which half was wrong.
            user_ok = hmac.compare_digest(expected_user.encode(), user.encode())
            password_ok = hmac.compare_digest(expected_password.encode(), password.encode())
            matched |= user_ok & password_ok
        if not matched:
            raise CallbackAuthError("basic credentials do not match")
    return f"{stamp}:{digest.strip().lower()}" if secrets else ""


def _credential(value: Any) -> tuple[str, str] | None:
    """A stored credential: {"username": .., "password": ..} or "username:password"."""
    if isinstance(value, dict) and value.get("username"):
        return str(value["username"]), str(value.get("password", ""))
    if isinstance(value, str) and ":" in value:
        user, _, password = value.partition(":")
        return user, password
    return None


def _basic_auth(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return "", ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, _, password = decoded.partition(":")
    return user, password
