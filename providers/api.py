"""Providers over the REST API. Secrets are write-only: accepted on write, never returned.

`config` and `secrets` are checked against the provider kind's declared fields (the same form fields
the dashboard uses), so the API and the forms agree on what a kind accepts.
"""

from __future__ import annotations

from typing import Any

from django import forms
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from rcsconnect.api import ApiMixin, query_str

from . import services
from .forms import check_vendor_url
from .headers import HEADERS, headers_store
from .kinds import registry
from .models import MAX_RATE_CEILING, Provider

KV_ROW_MAX = 50


@extend_schema_field(
    {"type": "object", "additionalProperties": {"type": "string"}, "description": "Write-only."}
)
class SecretsField(serializers.DictField):
    """Write-only secrets: a key with an empty value keeps the stored secret."""

    child = serializers.CharField(allow_blank=True, max_length=500)


def _kind_fields(kind) -> tuple[dict[str, forms.Field], dict[str, forms.Field], dict[str, str]]:
    return kind.config_fields, kind.secret_fields, getattr(kind, "key_value_fields", {})


def _clean(field: forms.Field, value: Any) -> Any:
    if value is not None and not isinstance(value, str | int | float | bool):
        raise forms.ValidationError("Enter a single value.")
    return field.clean("" if value is None else str(value) if not isinstance(value, bool) else value)


def _kv_rows(value: Any) -> list[dict[str, str]]:
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


class ProviderSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=[])
    config = serializers.DictField(
        required=False, help_text="Kind-specific settings (see the kind's fields)."
    )
    secrets = SecretsField(required=False, write_only=True)
    secrets_set = serializers.SerializerMethodField(help_text="Names of the secrets that are stored.")
    callback_url = serializers.CharField(read_only=True)
    concurrency = serializers.IntegerField(
        min_value=1, max_value=MAX_RATE_CEILING, allow_null=True, required=False
    )
    max_rate = serializers.IntegerField(
        min_value=1, max_value=MAX_RATE_CEILING, allow_null=True, required=False
    )
    sms_params = serializers.ListField(child=serializers.DictField(), required=False, max_length=KV_ROW_MAX)
    dlt_template_ids = serializers.ListField(
        child=serializers.RegexField(r"^\d{1,30}$", error_messages={"invalid": "Digits only."}),
        required=False,
        max_length=KV_ROW_MAX,
    )
    principal_entity_id = serializers.RegexField(
        r"^\d{0,30}$", required=False, allow_blank=True, error_messages={"invalid": "Digits only."}
    )

    class Meta:
        model = Provider
        fields = [
            "id",
            "kind",
            "nickname",
            "sender_id",
            "is_default",
            "enabled",
            "archived_at",
            "concurrency",
            "max_rate",
            "config",
            "secrets",
            "secrets_set",
            "sms_fallback",
            "sms_sender_id",
            "sms_params",
            "india",
            "principal_entity_id",
            "dlt_template_ids",
            "callback_url",
            "callback_require_timestamp",
            "health",
            "health_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "is_default",
            "archived_at",
            "health",
            "health_reason",
            "created_at",
            "updated_at",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = registry.choices()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            self.fields["kind"].read_only = True  # a provider never changes kind

    def get_secrets_set(self, provider: Provider) -> list[str]:
        return sorted(k for k, v in (provider.secrets or {}).items() if v)

    def validate_sms_params(self, value):
        try:
            return _kv_rows(value)
        except forms.ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate(self, attrs: dict) -> dict:
        kind_slug = attrs.get("kind") or getattr(self.instance, "kind", None)
        kind = registry.get(kind_slug)
        config_fields, secret_fields, kv_fields = _kind_fields(kind)
        errors: dict[str, list[str]] = {}

        stored_config = dict(self.instance.config) if self.instance else {}
        config_in = attrs.get("config")
        if config_in is None and self.instance is None:
            config_in = {}
        config = stored_config
        if config_in is not None:
            config = {}
            for key in config_in:
                if key not in config_fields and key not in kv_fields:
                    errors[f"config.{key}"] = [f"Unknown setting for {kind.name}."]
            for key, field in config_fields.items():
                try:
                    value = _clean(field, config_in.get(key, field.initial))
                except forms.ValidationError as exc:
                    errors[f"config.{key}"] = exc.messages
                    continue
                if value not in (None, ""):
                    config[key] = value
            for key in kv_fields:
                try:
                    config[key] = _kv_rows(config_in.get(key, []))
                except forms.ValidationError as exc:
                    errors[f"config.{key}"] = exc.messages

        secrets = dict(self.instance.secrets or {}) if self.instance else {}
        for key, value in (attrs.get("secrets") or {}).items():
            if key not in secret_fields:
                errors[f"secrets.{key}"] = [f"Unknown secret for {kind.name}."]
                continue
            if value == "":
                continue  # blank keeps the stored secret
            try:
                secrets[key] = secret_fields[key].clean(value)
            except forms.ValidationError as exc:
                errors[f"secrets.{key}"] = exc.messages

        if config_in is not None and HEADERS in kv_fields:
            config[HEADERS], secrets = headers_store(config.get(HEADERS, []), secrets)
        for key in getattr(kind, "url_fields", ()) if config_in is not None else ():
            problem = config.get(key) and f"config.{key}" not in errors and check_vendor_url(config[key])
            if problem:
                errors[f"config.{key}"] = [problem]
        auth_fields = getattr(kind, "auth_fields", {}).get(config.get("auth_type", ""), ())
        for key in [*getattr(kind, "required_secrets", ()), *auth_fields]:
            if key in secret_fields and not secrets.get(key):
                errors.setdefault(f"secrets.{key}", ["Required for this authentication."])
            elif key in config_fields and not config.get(key):
                errors.setdefault(f"config.{key}", ["Required for this authentication."])
        merged = {**({} if self.instance is None else vars(self.instance)), **attrs}
        if merged.get("sms_fallback") and not merged.get("sms_sender_id"):
            errors["sms_sender_id"] = ["Enter the SMS sender ID for the fallback."]
        if merged.get("india"):
            if not merged.get("principal_entity_id"):
                errors["principal_entity_id"] = ["India requires the Principal Entity ID."]
            if not merged.get("dlt_template_ids"):
                errors["dlt_template_ids"] = ["India requires at least one DLT template ID."]
        if not errors:
            for key, messages in kind.validate_config(config, secrets).items():
                name = f"secrets.{key}" if key in secret_fields else f"config.{key}" if key else "config"
                errors[name] = list(messages)
        if errors:
            raise serializers.ValidationError(errors)
        attrs["config"], attrs["secrets"] = config, secrets
        return attrs


class ProviderViewSet(ApiMixin, viewsets.ModelViewSet):
    """Vendor accounts. `secrets` is write-only; `secrets_set` lists which secrets are stored."""

    serializer_class = ProviderSerializer
    queryset = Provider.objects.all()
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        providers = Provider.objects.all()
        kind = query_str(self.request, "kind")
        if kind:
            providers = providers.filter(kind=kind)
        return providers

    def perform_create(self, serializer):
        serializer.instance = services.provider_save(provider=Provider(**serializer.validated_data))

    def perform_update(self, serializer):
        provider = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(provider, name, value)
        services.provider_save(provider=provider)

    def destroy(self, request, *args, **kwargs):
        """Delete a provider no campaign or message uses (409 naming them otherwise; archive instead)."""
        provider = self.get_object()
        try:
            services.provider_delete(provider_id=provider.pk)
        except services.ProviderError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _run(self, operation, **kwargs) -> Response:
        provider = self.get_object()
        try:
            result = operation(provider_id=provider.pk, **kwargs)
        except services.ProviderError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        provider.refresh_from_db()
        data = self.get_serializer(provider).data
        if isinstance(result, list):
            data["stopped_campaigns"] = result
        return Response(data)

    @extend_schema(request=None, responses={200: ProviderSerializer, 409: dict})
    @action(detail=True, methods=["post"], url_path="mark-default")
    def mark_default(self, request, pk=None):
        """Make this provider the default (exactly one at a time)."""
        return self._run(services.provider_mark_default)

    @extend_schema(request=None, responses={200: ProviderSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        """Archive: stops sending, pauses its running campaigns (`stopped_campaigns`), keeps stats."""
        return self._run(services.provider_archive)

    @extend_schema(request=None, responses={200: ProviderSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        return self._run(services.provider_set_enabled, enabled=False)

    @extend_schema(request=None, responses={200: ProviderSerializer, 409: dict})
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        return self._run(services.provider_set_enabled, enabled=True)
