"""Configured request headers of a provider, and which of them are secret.

A header value can be marked secret; names such as `Authorization` or containing `api-key`, `apikey`,
`token` or `secret` are secret whatever the mark. A secret value is write-only: it is kept (encrypted)
in `Provider.secrets` under `header:<name>`, and the row in `Provider.config["headers"]` holds
`{"name", "value": "", "secret": true}`, so the edit page, the API and the admin never show it.
A secret row submitted with a blank value keeps the stored value.
"""

from __future__ import annotations

from typing import Any

HEADERS = "headers"  # the key-value field of Provider.config
KEY_PREFIX = "header:"
_SECRET_WORDS = ("api-key", "api_key", "apikey", "token", "secret", "password")
_SECRET_NAMES = frozenset({"authorization", "proxy-authorization", "cookie"})


def header_is_secret(name: str) -> bool:
    """Whether a header of this name is secret by default."""
    lowered = name.strip().lower()
    return lowered in _SECRET_NAMES or any(word in lowered for word in _SECRET_WORDS)


def header_secret_key(name: str) -> str:
    return KEY_PREFIX + name.strip().lower()


def headers_store(rows: list[dict[str, Any]], secrets: dict[str, Any]) -> tuple[list[dict[str, Any]], dict]:
    """The rows as entered -> (rows for config, secrets): secret values move into the secrets, a
    blank one keeps the stored value, and secrets of headers no longer listed are dropped."""
    stored = dict(secrets or {})
    kept = {k: v for k, v in stored.items() if not str(k).startswith(KEY_PREFIX)}
    out: list[dict[str, Any]] = []
    for row in rows or []:
        name, value = str(row.get("name", "")).strip(), str(row.get("value", ""))
        if not name:
            continue
        if row.get("secret") or header_is_secret(name):
            key = header_secret_key(name)
            value = value or str(stored.get(key, ""))
            if value:
                kept[key] = value
            out.append({"name": name, "value": "", "secret": True})
        else:
            out.append({"name": name, "value": value})
    return out, kept


def headers_resolved(config: dict[str, Any], secrets: dict[str, Any]) -> dict[str, str]:
    """The configured headers as they are sent: {name: value}, secret values taken from the secrets."""
    headers: dict[str, str] = {}
    for row in (config or {}).get(HEADERS) or []:
        if not isinstance(row, dict) or not str(row.get("name", "")).strip():
            continue
        name = str(row["name"]).strip()
        if row.get("secret"):
            headers[name] = str((secrets or {}).get(header_secret_key(name), ""))
        else:
            headers[name] = str(row.get("value", ""))
    return headers


def secret_header_names(config: dict[str, Any]) -> set[str]:
    """Lower-cased names of the configured headers whose values are secret."""
    return {
        str(row.get("name", "")).strip().lower()
        for row in (config or {}).get(HEADERS) or []
        if isinstance(row, dict) and (row.get("secret") or header_is_secret(str(row.get("name", ""))))
    }
