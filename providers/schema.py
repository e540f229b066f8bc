"""The OpenAPI shapes of a provider's `config` and `secrets`, one per kind, generated from each kind's
declared fields (`ProviderKind.config_fields`, `secret_fields`, `key_value_fields`: the fields the dashboard
form and providers.validation use), so a new kind appears in the schema by itself.

A provider's kind never changes and an update's body does not repeat it, so `config` and `secrets` are an
`anyOf` of the kinds' shapes, each titled by its kind (`x-kind`): the one of the provider's `kind` applies.
"""

from __future__ import annotations

from typing import Any

from django import forms
from drf_spectacular.extensions import OpenApiSerializerFieldExtension

from .kinds import registry

KV_ROWS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "maxLength": 200}, "value": {"type": "string"}},
    },
}


def field_schema(field: forms.Field) -> dict[str, Any]:
    """The JSON Schema of one Django form field, as the API takes its value."""
    if isinstance(field, forms.BooleanField):
        schema: dict[str, Any] = {"type": "boolean"}
    elif isinstance(field, forms.IntegerField):
        schema = {"type": "integer"}
        if field.min_value is not None:
            schema["minimum"] = field.min_value
        if field.max_value is not None:
            schema["maximum"] = field.max_value
    elif isinstance(field, forms.ChoiceField):
        schema = {"type": "string", "enum": [str(value) for value, _ in field.choices]}
    else:
        schema = {"type": "string"}
        if isinstance(field, forms.URLField):
            schema["format"] = "uri"
        if getattr(field, "max_length", None):
            schema["maxLength"] = field.max_length
    description = " ".join(str(part) for part in (field.label, field.help_text) if part)
    if description:
        schema["description"] = description
    if field.initial not in (None, ""):
        schema["default"] = field.initial
    return schema


def config_schema(kind) -> dict[str, Any]:
    required = set(getattr(kind, "required_fields", ())) | {
        key for key, field in kind.config_fields.items() if field.required and field.initial in (None, "")
    }
    properties = {key: field_schema(field) for key, field in kind.config_fields.items()}
    properties.update(
        {key: {**KV_ROWS, "description": label} for key, label in kind.key_value_fields.items()}
    )
    return {
        "type": "object",
        "title": f"{kind.name} config",
        "description": f"`config` when `kind` is `{kind.slug}`.",
        "x-kind": kind.slug,
        "properties": properties,
        **({"required": sorted(required)} if required else {}),
    }


def secrets_schema(kind) -> dict[str, Any]:
    return {
        "type": "object",
        "title": f"{kind.name} secrets",
        "description": f"`secrets` when `kind` is `{kind.slug}` (write-only).",
        "x-kind": kind.slug,
        "properties": {key: field_schema(field) for key, field in kind.secret_fields.items()},
    }


def _kinds():
    return [registry.get(slug) for slug, _ in registry.choices()]


def config_field_schema() -> dict[str, Any]:
    return {"anyOf": [config_schema(kind) for kind in _kinds()], "description": "The kind's settings."}


def secrets_field_schema() -> dict[str, Any]:
    return {"anyOf": [secrets_schema(kind) for kind in _kinds()], "description": "Write-only."}


class _ConfigFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "providers.api.ConfigField"

    def map_serializer_field(self, auto_schema, direction):
        return config_field_schema()


class _SecretsFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "providers.api.SecretsField"

    def map_serializer_field(self, auto_schema, direction):
        return secrets_field_schema()
