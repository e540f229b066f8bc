"""The one provider validation service: the dashboard form, the API serializer and the admin call it.

Errors are `{field: [message, ...]}` with one naming scheme on every surface: a common column by its
name (`sms_sender_id`), a kind setting as `config.<key>`, a secret as `secrets.<key>`, "" for the whole
provider. Each surface only maps these names onto its own inputs (the form's `cfg_<key>` fields, the
admin's `config` box); the rules and their messages live here.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django import forms

from rcsconnect.http import AllowList, BlockedAddressError, check_host

from .headers import HEADERS, headers_store
from .kinds.base import ProviderKind
from .models import Provider

DIGITS = re.compile(r"^\d+$")
KV_ROW_MAX = 50
Errors = dict[str, list[str]]

REQUIRED = "Required."
REQUIRED_FOR_AUTH = "Required for this authentication."
SMS_SENDER_NEEDED = "Enter the SMS sender ID for the fallback."
INDIA_PE_ID = "India requires the Principal Entity ID."
INDIA_DLT_IDS = "India requires at least one DLT template ID."
PE_ID_DIGITS = "The Principal Entity ID is digits only."
BASIC_PAIR = "Enter both the user and the password."
NICKNAME_TAKEN = "Another provider already has this nickname."
DEFAULT_DISABLED = "A disabled provider cannot be the default."


def check_vendor_url(url: str) -> str | None:
    """An error message for a vendor URL that is not HTTPS or resolves to a refused address."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "The port must be a number from 1 to 65535."
    if parts.scheme != "https" and not (
        parts.scheme == "http" and AllowList.from_settings().names(host, port)
    ):
        return "Use an https:// URL."
    try:
        check_host(host, port)
    except BlockedAddressError:
        return "This host resolves to a private, loopback or reserved address."
    except (socket.gaierror, UnicodeError):
        return f"The host {host} cannot be resolved."
    return None


# -- single values --------------------------------------------------------------------------------------
def dlt_ids(value: Any) -> tuple[list[str], str]:
    """DLT template IDs from text (one per line, or separated by commas) or a list; (ids, error)."""
    if isinstance(value, list | tuple):
        parts = [str(part).strip() for part in value]
    else:
        parts = re.split(r"[\s,;]+", str(value or ""))
    ids = [part for part in parts if part]
    bad = [i for i in ids if not DIGITS.match(i) or len(i) > 30]
    if bad:
        return ids, f"DLT template IDs are digits only: {', '.join(bad[:3])}."
    return ids, ""


def kv_rows(value: Any) -> list[dict[str, str]]:
    """A key-value list given as data ([{name, value, secret?}]); raises forms.ValidationError."""
    if not isinstance(value, list) or len(value) > KV_ROW_MAX:
        raise forms.ValidationError(f"Enter a list of at most {KV_ROW_MAX} {{name, value}} objects.")
    rows = []
    for row in value:
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise forms.ValidationError("Each row is an object with a name and a value.")
        value_ = row.get("value", "")
        if not isinstance(value_, str):
            raise forms.ValidationError("Each value is a string.")
        if row["name"].strip():
            rows.append({"name": row["name"].strip()[:200], "value": value_[:2000]})
            if row.get("secret") is True:
                rows[-1]["secret"] = True
    return rows


def _clean(field: forms.Field, value: Any) -> Any:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise forms.ValidationError("Enter a single value.")
    return field.clean("" if value is None else str(value) if not isinstance(value, bool) else value)


def clean_config(kind: type[ProviderKind], given: Mapping[str, Any]) -> tuple[dict[str, Any], Errors]:
    """Kind settings given as data (API, admin): each through the kind's own form field."""
    errors: Errors = {}
    config: dict[str, Any] = {}
    for key in given:
        if key not in kind.config_fields and key not in kind.key_value_fields:
            errors[f"config.{key}"] = [f"Unknown setting for {kind.name}."]
    for key, field in kind.config_fields.items():
        try:
            value = _clean(field, given.get(key, field.initial))
        except forms.ValidationError as exc:
            errors[f"config.{key}"] = exc.messages
            continue
        if value not in (None, ""):
            config[key] = value
    for key in kind.key_value_fields:
        try:
            config[key] = kv_rows(given.get(key, []))
        except forms.ValidationError as exc:
            errors[f"config.{key}"] = exc.messages
    return config, errors


def clean_secrets(
    kind: type[ProviderKind], stored: Mapping[str, str], given: Mapping[str, Any]
) -> tuple[dict[str, str], Errors]:
    """Stored secrets with the given ones applied (a blank value keeps the stored one)."""
    errors: Errors = {}
    secrets = dict(stored)
    for key, value in given.items():
        if key not in kind.secret_fields:
            errors[f"secrets.{key}"] = [f"Unknown secret for {kind.name}."]
            continue
        if value == "" or value is None:
            continue
        try:
            secrets[key] = kind.secret_fields[key].clean(value)
        except forms.ValidationError as exc:
            errors[f"secrets.{key}"] = exc.messages
    return secrets, errors


def store_headers(kind: type[ProviderKind], config: dict, secrets: dict) -> tuple[dict, dict]:
    """Secret header values move from config to secrets (providers.headers)."""
    if HEADERS in kind.key_value_fields:
        config[HEADERS], secrets = headers_store(config.get(HEADERS, []), secrets)
    return config, secrets


# -- the whole provider ------------------------------------------------------------------------------------
def provider_errors(
    *,
    kind: type[ProviderKind],
    config: Mapping[str, Any],
    secrets: Mapping[str, str],
    values: Mapping[str, Any],
    instance: Provider | None = None,
    check_config: bool = True,
    skip: Iterable[str] = (),
) -> Errors:
    """Every rule across a provider's fields. `values` holds the common columns as they would be saved
    (nickname, sms_fallback, sms_sender_id, india, principal_entity_id, dlt_template_ids, enabled,
    make_default, callback_basic_username/password); a name in `skip` already has a per-field error and
    is not checked again. `check_config=False`: the settings were not given (an API PATCH of columns)."""
    skip = set(skip)
    errors: Errors = {}

    def add(name: str, message: str) -> None:
        if name not in skip:
            errors.setdefault(name, []).append(message)

    nickname = str(values.get("nickname") or "").strip()
    if nickname and "nickname" in values:
        clash = Provider.objects.filter(nickname__iexact=nickname)
        if instance is not None and instance.pk:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            add("nickname", NICKNAME_TAKEN)
    pe_id = str(values.get("principal_entity_id") or "").strip()
    if pe_id and not DIGITS.match(pe_id):
        add("principal_entity_id", PE_ID_DIGITS)
    if check_config:
        for key in kind.url_fields:
            url = config.get(key)
            if url and (problem := check_vendor_url(url)):
                add(f"config.{key}", problem)
        for key in kind.required_fields:
            if not config.get(key):
                add(f"config.{key}", REQUIRED)
        for key in kind.required_secrets:
            if not secrets.get(key):
                add(f"secrets.{key}", REQUIRED)
        for key in kind.auth_fields_for(config):
            if key in kind.secret_fields and not secrets.get(key):
                add(f"secrets.{key}", REQUIRED_FOR_AUTH)
            elif key in kind.config_fields and not config.get(key):
                add(f"config.{key}", REQUIRED_FOR_AUTH)
        for key, messages in kind.validate_config(dict(config), dict(secrets)).items():
            name = f"secrets.{key}" if key in kind.secret_fields else f"config.{key}" if key else ""
            for message in messages:
                add(name, message)
    if values.get("sms_fallback") and not values.get("sms_sender_id"):
        add("sms_sender_id", SMS_SENDER_NEEDED)
    if values.get("india"):
        if not pe_id and "principal_entity_id" not in errors:
            add("principal_entity_id", INDIA_PE_ID)
        if not values.get("dlt_template_ids"):
            add("dlt_template_ids", INDIA_DLT_IDS)
    if values.get("make_default") and not values.get("enabled"):
        add("make_default", DEFAULT_DISABLED)
    if bool(values.get("callback_basic_username")) != bool(values.get("callback_basic_password")):
        add("callback_basic_password", BASIC_PAIR)
    return errors


def checked_provider(
    *,
    kind: type[ProviderKind],
    config: Mapping[str, Any] | None,
    secrets: Mapping[str, Any],
    values: Mapping[str, Any],
    instance: Provider | None = None,
) -> tuple[dict[str, Any], dict[str, str], Errors]:
    """(config, secrets, errors) of a provider given as data (the API, management commands, the demo):
    the settings through the kind's fields, the secrets over the stored ones, then every rule.
    `config` None: the settings were not given (the stored ones are kept and not checked again)."""
    errors: Errors = {}
    stored_config = dict(instance.config or {}) if instance is not None and instance.pk else {}
    config_out = stored_config
    if config is not None:
        config_out, errors = clean_config(kind, config)
    stored = dict(instance.secrets or {}) if instance is not None and instance.pk else {}
    secrets_out, secret_errors = clean_secrets(kind, stored, secrets or {})
    errors.update(secret_errors)
    if config is not None:
        config_out, secrets_out = store_headers(kind, config_out, secrets_out)
    errors.update(
        provider_errors(
            kind=kind,
            config=config_out,
            secrets=secrets_out,
            values=values,
            instance=instance,
            check_config=config is not None,
            skip=errors,
        )
    )
    return config_out, secrets_out, errors


def apply_callback_credentials(provider: Provider, data: Mapping[str, Any]) -> None:
    """New callback HMAC secret / Basic credentials (write-only), rotation end and switch-off."""
    hmac_secrets = list(provider.callback_hmac_secrets or [])
    basic = list(provider.callback_basic_credentials or [])
    if data.get("callback_hmac_secret"):
        hmac_secrets = [data["callback_hmac_secret"], *hmac_secrets][:2]
    if data.get("callback_basic_username"):
        new = {"username": data["callback_basic_username"], "password": data["callback_basic_password"]}
        basic = [new, *basic][:2]
    if data.get("callback_keep_newest_only"):
        hmac_secrets, basic = hmac_secrets[:1], basic[:1]
    if data.get("callback_checks_off"):
        hmac_secrets, basic = [], []
    provider.callback_hmac_secrets, provider.callback_basic_credentials = hmac_secrets, basic


def form_field(name: str) -> str | None:
    """The dashboard form's input for a validation field name."""
    if name.startswith("config."):
        return f"cfg_{name[7:]}"
    if name.startswith("secrets."):
        return f"secret_{name[8:]}"
    return name or None
