"""Message templates over the REST API, checked by `templates_app.limits` like the dashboard form."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from providers.models import Provider
from rcsconnect import pagination
from rcsconnect.api import ApiMixin, query_int

from . import limits, services, validation
from . import schema as template_schema
from .models import MessageTemplate


@extend_schema_field(template_schema.content_schema())
class ContentField(serializers.JSONField):
    """Template content; its shape (templates_app.schema) is checked before the limits."""

    def to_internal_value(self, data):
        problems = template_schema.structure_errors(data)
        if problems:
            raise serializers.ValidationError(problems)
        return super().to_internal_value(data)


class TemplateSerializer(serializers.ModelSerializer):
    provider = serializers.PrimaryKeyRelatedField(queryset=Provider.objects.all())
    content = ContentField()
    sample_values = serializers.ListField(
        child=serializers.CharField(max_length=1000, allow_blank=True),
        required=False,
        max_length=50,
        help_text="One non-blank sample per placeholder, in order: sample_values[0] for {{1}}. Required when "
        "the content has placeholders (a missing one is a 400 on content.samples.<n>).",
    )
    warnings = serializers.SerializerMethodField(help_text="Limits close to being reached, by content path.")

    class Meta:
        model = MessageTemplate
        fields = [
            "id",
            "provider",
            "name",
            "language",
            "format",
            "category",
            "content",
            "sample_values",
            "status",
            "rejection_reason",
            "warnings",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["format", "status", "rejection_reason", "created_at", "updated_at"]
        validators = []  # uniqueness is checked in validate() with a message naming the field
        extra_kwargs = {"name": {"validators": []}}  # the name's rules: templates_app.validation

    def get_warnings(self, template: MessageTemplate) -> dict[str, list[str]]:
        return limits.validate_content(template.content)[1] if isinstance(template.content, dict) else {}

    def validate(self, attrs: dict) -> dict:
        instance = self.instance
        if "content" in attrs:
            attrs["content"] = validation.with_defaults(attrs["content"])
        errors = validation.template_errors(
            content=attrs.get("content", getattr(instance, "content", None)),
            samples=attrs.get("sample_values", getattr(instance, "sample_values", [])),
            name=attrs.get("name", getattr(instance, "name", None)),
            provider=attrs.get("provider", getattr(instance, "provider", None)),
            language=attrs.get("language", getattr(instance, "language", "en")),
            instance=instance,
        )
        if errors:
            body: dict[str, Any] = {}
            for key, messages in errors.items():
                field, _, path = key.partition(".")
                if field in ("content", "samples"):
                    body.setdefault("content", {})[path if field == "content" else key] = messages
                else:
                    body[field] = messages
            raise serializers.ValidationError(body)
        return attrs


class TemplateViewSet(ApiMixin, viewsets.ModelViewSet):
    """Templates per provider. Filter with `?provider=<id>` and `?status=`."""

    serializer_class = TemplateSerializer
    queryset = MessageTemplate.objects.select_related("provider")
    lookup_value_regex = r"\d+"

    @extend_schema(
        parameters=[
            OpenApiParameter("provider", int, description="Provider id."),
            OpenApiParameter("status", str, enum=MessageTemplate.Status.values),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def perform_create(self, serializer):
        self._save(serializer, MessageTemplate())

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    @staticmethod
    def _save(serializer, template: MessageTemplate) -> None:
        data = dict(serializer.validated_data)
        content = data.pop("content", template.content)
        samples = data.pop("sample_values", template.sample_values)
        for name, value in data.items():
            setattr(template, name, value)
        services.template_save(template=template, content=content, sample_values=samples)
        serializer.instance = template

    @extend_schema(
        responses={
            200: inline_serializer(
                "TemplateDeleted",
                {
                    "cancelled_campaigns": serializers.ListField(
                        child=serializers.CharField(), help_text="Names of the campaigns cancelled."
                    ),
                    "kept_for_history": serializers.BooleanField(
                        help_text="Kept hidden because campaigns or messages refer to it."
                    ),
                },
            )
        }
    )
    def destroy(self, request, *args, **kwargs):
        """Delete; campaigns using it are cancelled (`cancelled_campaigns`) and it is kept hidden for them."""
        result = services.template_delete(template=self.get_object())
        return Response({"cancelled_campaigns": result.cancelled, "kept_for_history": result.soft})

    def get_queryset(self):
        templates = MessageTemplate.objects.select_related("provider")
        provider = query_int(self.request, "provider")
        if provider is not None:
            templates = templates.filter(provider_id=provider)
        status = pagination.choice(self.request, "status", MessageTemplate.Status.values)
        if status:
            templates = templates.filter(status=status)
        return templates
