"""Webhooks over the REST API: CRUD, secret rotation, a test event and the delivery log.

The secret is never readable: it is generated on creation and answered once in that response (and
once by `rotate-secret`). Validation is `services.webhook_validate`, the dashboard form's too.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from rcsconnect.api import ApiMixin, error_responses

from . import delivery, services
from .models import EventType, Webhook, WebhookAttempt, WebhookDelivery


def _validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    return exceptions.ValidationError(exc.message_dict)


class WebhookSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices), allow_empty=True)

    class Meta:
        model = Webhook
        fields = ["id", "name", "url", "events", "is_active", "created_at", "updated_at", "secret_rotated_at"]
        read_only_fields = ["created_at", "updated_at", "secret_rotated_at"]
        # The one validator decides (services.webhook_validate); the URL's shape is checked there.
        extra_kwargs = {"url": {"validators": []}, "name": {"validators": [], "allow_blank": True}}

    def create(self, validated_data: dict) -> Webhook:
        try:
            return services.webhook_create(**validated_data, user=self.context["request"].user)
        except DjangoValidationError as exc:
            raise _validation_error(exc) from None

    def update(self, instance: Webhook, validated_data: dict) -> Webhook:
        try:
            return services.webhook_update(webhook=instance, **validated_data)
        except DjangoValidationError as exc:
            raise _validation_error(exc) from None


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Shown in this response only: store it to verify X-RCS-Signature."
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The new secret, shown once; the old one stops signing now.")


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "at", "status_code", "latency_ms", "error"]


class DeliverySerializer(serializers.ModelSerializer):
    attempt_log = AttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_latency_ms",
            "last_error",
            "created_at",
            "delivered_at",
            "payload",
            "attempt_log",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(responses={200: WebhookSerializer(many=True), **error_responses(401, 403)}),
    retrieve=extend_schema(responses={200: WebhookSerializer, **error_responses(401, 403, 404)}),
    create=extend_schema(
        responses={201: WebhookCreatedSerializer, **error_responses(400, 401, 403)},
        description="Register a webhook; the response carries its signing `secret`, shown only here.",
    ),
    update=extend_schema(responses={200: WebhookSerializer, **error_responses(400, 401, 403, 404)}),
    partial_update=extend_schema(responses={200: WebhookSerializer, **error_responses(400, 401, 403, 404)}),
    destroy=extend_schema(responses={204: None, **error_responses(401, 403, 404)}),
)
class WebhookViewSet(ApiMixin, viewsets.ModelViewSet):
    """Outgoing webhooks (docs/webhooks.md): where events are POSTed, signed with the webhook's secret."""

    serializer_class = WebhookSerializer
    queryset = Webhook.objects.all()
    lookup_value_regex = r"\d+"

    def create(self, request, *args, **kwargs):
        serializer = WebhookSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        webhook = serializer.save()
        return Response(WebhookCreatedSerializer(webhook).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: SecretSerializer, **error_responses(401, 403, 404)})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        webhook = self.get_object()
        return Response({"secret": services.webhook_rotate_secret(webhook_id=webhook.pk)})

    @extend_schema(
        request=None,
        responses={202: DeliverySerializer, **error_responses(401, 403, 404)},
        description="Queue a `webhook.test` event to this webhook (one attempt, not retried).",
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        webhook = self.get_object()
        with transaction.atomic():
            sent = delivery.webhook_send_test(webhook_id=webhook.pk, user_name=request.user.get_username())
        return Response(DeliverySerializer(sent).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: DeliverySerializer(many=True), **error_responses(401, 403, 404)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The webhook's delivery log, newest first, each with its attempts."""
        webhook = self.get_object()
        log = webhook.deliveries.prefetch_related("attempt_log").order_by("-created_at", "-id")
        page = self.paginate_queryset(log)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)
