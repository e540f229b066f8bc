"""Providers over the REST API. Secrets are write-only: accepted on write, never returned.

`config` and `secrets` are checked against the provider kind's declared fields (the same form fields
the dashboard uses), so the API and the forms agree on what a kind accepts.
"""

from __future__ import annotations

from django import forms
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from rcsconnect.api import ApiMixin, query_str

from . import schema as _schema  # noqa: F401  (the config and secrets shapes)
from . import services, validation
from .kinds import registry
from .models import MAX_RATE_CEILING, Provider

KV_ROW_MAX = validation.KV_ROW_MAX
CALLBACK_INPUTS = (
    "callback_hmac_secret",
    "callback_basic_username",
    "callback_basic_password",
    "callback_keep_newest_only",
    "callback_checks_off",
)


class ConfigField(serializers.DictField):
    """The kind's settings; documented per kind by providers.schema, checked by providers.validation."""


class SecretsField(serializers.DictField):
    """Write-only secrets: a key with an empty value keeps the stored secret."""

    child = serializers.CharField(allow_blank=True, max_length=500)


class ProviderSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=[])
    # Unique nickname: checked by providers.validation (the same message on every surface).
    nickname = serializers.CharField(max_length=80)
    config = ConfigField(required=False, help_text="Kind-specific settings (see the kind's fields).")
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
        child=serializers.CharField(max_length=30), required=False, max_length=KV_ROW_MAX
    )
    principal_entity_id = serializers.CharField(max_length=30, required=False, allow_blank=True)
    # Callback credentials: write-only, as on the dashboard form (providers.validation).
    callback_hmac_secret = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="A new callback HMAC secret; the previous one stays valid until the rotation ends.",
    )
    callback_basic_username = serializers.CharField(
        max_length=100, required=False, allow_blank=True, write_only=True
    )
    callback_basic_password = serializers.CharField(
        max_length=200, required=False, allow_blank=True, write_only=True
    )
    callback_keep_newest_only = serializers.BooleanField(
        required=False, write_only=True, help_text="Keep only the newest secret and credentials."
    )
    callback_checks_off = serializers.BooleanField(
        required=False, write_only=True, help_text="Turn off the HMAC and Basic callback checks."
    )
    callback_checks = serializers.SerializerMethodField(
        help_text="How many callback HMAC secrets and Basic credentials are stored (never their values)."
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
            "callback_hmac_secret",
            "callback_basic_username",
            "callback_basic_password",
            "callback_keep_newest_only",
            "callback_checks_off",
            "callback_checks",
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

    def get_callback_checks(self, provider: Provider) -> dict[str, int]:
        return {
            "hmac_secrets": len(provider.callback_hmac_secrets or []),
            "basic_credentials": len(provider.callback_basic_credentials or []),
        }

    def validate_sms_params(self, value):
        try:
            return validation.kv_rows(value)
        except forms.ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate_dlt_template_ids(self, value):
        ids, problem = validation.dlt_ids(value)
        if problem:
            raise serializers.ValidationError(problem)
        return ids

    def validate(self, attrs: dict) -> dict:
        kind = registry.get(attrs.get("kind") or getattr(self.instance, "kind", None))
        config_in = attrs.get("config")
        if config_in is None and self.instance is None:
            config_in = {}
        merged = {**({} if self.instance is None else vars(self.instance)), **attrs}
        if "nickname" not in attrs:
            merged.pop("nickname", None)
        config, secrets, errors = validation.checked_provider(
            kind=kind,
            config=config_in,
            secrets=attrs.get("secrets") or {},
            values=merged,
            instance=self.instance,
        )
        if errors:
            raise serializers.ValidationError(errors)
        attrs["config"], attrs["secrets"] = config, secrets
        return attrs


class ProviderArchivedSerializer(ProviderSerializer):
    stopped_campaigns = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Names of the running campaigns paused."
    )

    class Meta(ProviderSerializer.Meta):
        fields = [*ProviderSerializer.Meta.fields, "stopped_campaigns"]


class ProviderUpdateSerializer(ProviderSerializer):
    """The schema of PUT and PATCH bodies: `kind` read-only (a provider never changes kind; the view's
    ProviderSerializer makes it read-only for an existing provider), so no `kind` in them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].read_only = True


class ProviderViewSet(ApiMixin, viewsets.ModelViewSet):
    """Vendor accounts. `secrets` is write-only; `secrets_set` lists which secrets are stored."""

    serializer_class = ProviderSerializer
    queryset = Provider.objects.all()
    lookup_value_regex = r"\d+"

    @extend_schema(parameters=[OpenApiParameter("kind", str, description="A provider kind's slug.")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=ProviderUpdateSerializer, responses=ProviderSerializer)
    def update(self, request, *args, **kwargs):
        return super().update(request, *args, **kwargs)

    @extend_schema(request=ProviderUpdateSerializer, responses=ProviderSerializer)
    def partial_update(self, request, *args, **kwargs):
        return super().partial_update(request, *args, **kwargs)

    def get_queryset(self):
        providers = Provider.objects.all()
        kind = query_str(self.request, "kind")
        if kind:
            providers = providers.filter(kind=kind)
        return providers

    def perform_create(self, serializer):
        self._save(serializer, Provider())

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    @staticmethod
    def _save(serializer, provider: Provider) -> None:
        data = dict(serializer.validated_data)
        callback = {name: data.pop(name) for name in CALLBACK_INPUTS if name in data}
        for name, value in data.items():
            setattr(provider, name, value)
        validation.apply_callback_credentials(provider, callback)
        serializer.instance = services.provider_save(provider=provider)

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

    @extend_schema(request=None, responses={200: ProviderArchivedSerializer, 409: dict})
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
