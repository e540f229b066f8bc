"""Credentials for vendor requests: HTTP Basic and OAuth 2.0 client credentials (RFC 6749 4.4).

One OAuth token per provider is kept in the Django cache (the database cache embedded, Redis in
production), so every web and worker process shares it. It is refreshed `TOKEN_MARGIN` seconds
before it expires and once when the vendor answers 401/403. The cache key includes a hash of the
credentials, so editing them invalidates the old token. A token read from the shared cache is also
kept in the process for up to `LOCAL_SECONDS`, so the dispatch loop's sends do not ask the shared
cache (a database table in the embedded default) once per message.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from django.core.cache import cache
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error
from requests.auth import HTTPBasicAuth
from requests_oauthlib import OAuth2Session

from rcsconnect.http import BlockedAddressError

if TYPE_CHECKING:
    from providers.models import Provider

TOKEN_MARGIN = 60  # seconds before expiry a token is replaced
MIN_TOKEN_LIFETIME = 5
LOCK_SECONDS = 15  # one process fetches while the others wait for its token
LOCAL_SECONDS = 5.0  # a token is reused from this process's memory at most this long

# cache key -> (monotonic time until which it may be used, token); dict reads and writes are atomic.
_local: dict[str, tuple[float, str]] = {}


class AuthError(Exception):
    """Credentials could not be obtained (token endpoint down, refusing, or answering nonsense)."""


def basic_header(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _oauth(provider: Provider) -> dict[str, Any]:
    """The kind's OAuth 2.0 settings for this provider (ProviderKind.oauth_config), empty without."""
    settings_ = provider.kind_class.oauth_config(provider.config or {}, provider.secrets or {})
    return settings_ or {"token_url": "", "client_id": "", "client_secret": "", "extra_params": {}}


def _cache_key(provider: Provider) -> str:
    oauth = _oauth(provider)
    fingerprint = hashlib.sha256(
        "\0".join([oauth["token_url"], oauth["client_id"], oauth["client_secret"]]).encode()
    ).hexdigest()[:16]
    return f"oauth-token:{provider.pk}:{fingerprint}"


def forget_token(provider: Provider) -> None:
    key = _cache_key(provider)
    _local.pop(key, None)
    cache.delete(key)


def forget_local_tokens() -> None:
    """Drop the tokens kept in this process (tests; the shared cache is untouched)."""
    _local.clear()


def _remember(key: str, entry: dict[str, Any]) -> str:
    valid_for = entry["refresh_at"] - time.time()
    _local[key] = (time.monotonic() + min(LOCAL_SECONDS, valid_for), entry["access_token"])
    return entry["access_token"]


def local_token(provider: Provider) -> str | None:
    """The token this process holds for the provider, if still usable; never any I/O."""
    local = _local.get(_cache_key(provider))
    if local and local[0] > time.monotonic():
        return local[1]
    return None


def oauth_token(provider: Provider, session: requests.Session, *, refresh: bool = False) -> str:
    """A valid access token for the provider, from the shared cache or the token endpoint."""
    key = _cache_key(provider)
    if not refresh:
        if token := local_token(provider):
            return token
        entry = cache.get(key)
        if _usable(entry):
            return _remember(key, entry)
        # Another process may be fetching right now: wait briefly for its token instead of
        # sending a burst of token requests when a token expires under load.
        if not cache.add(key + ":lock", 1, LOCK_SECONDS):
            deadline = time.monotonic() + LOCK_SECONDS
            while time.monotonic() < deadline:
                time.sleep(0.1)
                entry = cache.get(key)
                if _usable(entry):
                    return _remember(key, entry)
    try:
        token = fetch_token(provider, session)
    finally:
        cache.delete(key + ":lock")
    lifetime = max(MIN_TOKEN_LIFETIME, float(token.get("expires_in") or 3600))
    # Replaced TOKEN_MARGIN seconds before expiry; a short-lived token at half its life.
    usable = lifetime - TOKEN_MARGIN if lifetime > 2 * TOKEN_MARGIN else lifetime / 2
    entry = {"access_token": token["access_token"], "refresh_at": time.time() + usable}
    cache.set(key, entry, timeout=max(1, int(usable)))
    return _remember(key, entry)


def _usable(entry: dict[str, Any] | None) -> str | None:
    if entry and entry.get("refresh_at", 0) > time.time():
        return entry["access_token"]
    return None


def fetch_token(provider: Provider, session: requests.Session) -> dict[str, Any]:
    """POST grant_type=client_credentials with HTTP Basic client auth and the extra key-values."""
    settings_ = _oauth(provider)
    token_url, client_id = settings_["token_url"], settings_["client_id"]
    if not token_url or not client_id:
        raise AuthError("OAuth 2.0 client URL and client ID are required.")
    if urlsplit(token_url).scheme == "http":
        # Plain HTTP only reaches hosts the operator allowed (the forms refuse it otherwise, and
        # the address guard still applies): the local simulator.
        os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")
    oauth = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
    oauth.trust_env = False
    oauth.max_redirects = 0  # a redirect is not followed: the request (and its credentials) goes once
    for prefix, adapter in session.adapters.items():  # the guarded, pooled adapters
        oauth.mount(prefix, adapter)
    extra = settings_["extra_params"]
    timeout = getattr(session, "default_timeout", (5.0, 15.0))
    try:
        token = oauth.fetch_token(
            token_url,
            auth=HTTPBasicAuth(client_id, settings_["client_secret"]),
            include_client_id=False,
            timeout=timeout,
            **extra,
        )
    except BlockedAddressError:
        raise
    except requests.RequestException as exc:
        if isinstance(getattr(exc, "args", [None])[0], BlockedAddressError):
            raise exc.args[0] from exc
        raise AuthError(f"Token endpoint unreachable: {exc.__class__.__name__}") from exc
    except OAuth2Error as exc:
        raise AuthError(f"Token endpoint refused the client: {exc.error}") from exc
    except (ValueError, KeyError) as exc:
        raise AuthError(f"Token endpoint answered something that is not a token: {exc}") from exc
    if not token.get("access_token"):
        raise AuthError("Token endpoint answered without an access_token.")
    return token
