"""The OpenAPI shapes of a provider, one per kind, generated from each kind's declared fields
(`ProviderKind.config_fields`, `secret_fields`, `key_value_fields`: the fields the dashboard form and
providers.validation use), so a new kind appears in the schema by itself.

Where a body always carries `kind`, a provider is a discriminated `oneOf` (`provider_kinds_oneof`, a
postprocessing hook run at every schema generation, so a kind registered later, as in a test, is there):
the answers (`Provider` in list, retrieve, create and the actions; `ProviderArchived`) and the create body
(`ProviderRequest`) are each a `oneOf` of one component per kind (`GenericRcsProvider`, `JiocxProvider`,
`GenericRcsProviderRequest`, ...) with a `discriminator` on `kind` and its mapping. Each branch is the
common shape with `kind` a one-value enum and `config` / `secrets` that kind's shape, so the branches
exclude each other (no value, `""` included, matches two).

PUT and PATCH bodies (`ProviderUpdateRequest`, `PatchedProviderUpdateRequest`) have no `kind`: a provider
never changes kind and the server ignores it on update, so nothing in the body tells the kinds apart: every
field but `nickname` and `sender_id` (PUT) is optional, `config` too (left out, the stored one is kept), so
one body such as `{"nickname": "x", "sender_id": "y"}` fits every kind's shape and a `oneOf` of per-kind
shapes would be false (it needs exactly one branch to match). There
`config` and `secrets` stay an `anyOf` of the kinds' shapes, each titled by its kind (`x-kind`): the one of
the provider's `kind` applies.
"""

from __future__ import annotations

import re
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


# The components that always carry `kind`: each becomes a discriminated oneOf of one component per kind.
DISCRIMINATED = ("Provider", "ProviderArchived", "ProviderRequest")


def component_prefix(kind) -> str:
    """`generic_rcs` -> `GenericRcs`: the start of the kind's component names."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", kind.slug) if part)


def _kind_component(shape: dict[str, Any], kind) -> dict[str, Any]:
    properties = dict(shape["properties"])
    description = f"`{kind.slug}`: {kind.name}."
    properties["kind"] = {"type": "string", "enum": [kind.slug], "description": description}
    if "config" in properties:
        properties["config"] = config_schema(kind)
    if "secrets" in properties:
        properties["secrets"] = {**secrets_schema(kind), "writeOnly": True}
    description = f"A provider of kind `{kind.slug}` ({kind.name})."
    return {**shape, "description": description, "properties": properties}


def provider_kinds_oneof(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): the provider
    components that always carry `kind` become a oneOf of one component per registered kind, with a
    discriminator on `kind`."""
    schemas = result.get("components", {}).get("schemas", {})
    kinds = _kinds()
    for base in DISCRIMINATED:
        shape = schemas.get(base)
        if not shape or "kind" not in shape.get("properties", {}):
            continue
        mapping = {}
        for kind in kinds:
            name = f"{component_prefix(kind)}{base}"
            schemas[name] = _kind_component(shape, kind)
            mapping[kind.slug] = f"#/components/schemas/{name}"
        schemas[base] = {
            "oneOf": [{"$ref": ref} for ref in mapping.values()],
            "discriminator": {"propertyName": "kind", "mapping": mapping},
            "description": "A provider: the shape of its `kind`.",
        }
    if "#/components/schemas/KindEnum" not in str(result):  # (kind is now each branch's own enum)
        schemas.pop("KindEnum", None)
    result["components"]["schemas"] = dict(sorted(schemas.items()))
    return result
