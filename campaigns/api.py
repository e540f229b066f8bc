"""Audiences, contacts, campaigns, messages and transactional sends over the REST API.

Thin: serializers check input and name the field; lifecycle actions and sends call
`campaigns.services`; stats come from `campaigns.stats`.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from providers.content import CONTENT_TYPES
from providers.models import Provider
from rcsconnect import pagination, phone
from rcsconnect.api import ApiMixin, query_int, query_str
from templates_app.models import MessageTemplate
from templates_app.rendering import placeholders

from . import segments, stats, validation
from .models import Audience, Campaign, Contact, Conversion, Message, MessageStatus, Segment

CONTACTS_PER_REQUEST = 1000
IDEMPOTENCY_KEY_MAX = 120


def e164(value: str) -> str:
    """The number in E.164 (rcsconnect.phone, the default country for a number without +)."""
    try:
        return phone.to_e164(value)
    except forms.ValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


def idempotency_key(request) -> str:
    """The request's `Idempotency-Key` header ("" without one), or a 400 naming it."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if len(key) > IDEMPOTENCY_KEY_MAX or "\x00" in key:
        raise exceptions.ValidationError({"Idempotency-Key": [f"At most {IDEMPOTENCY_KEY_MAX} characters."]})
    return key


def idempotency_parameter(what: str) -> OpenApiParameter:
    return OpenApiParameter(
        "Idempotency-Key",
        {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX},
        location=OpenApiParameter.HEADER,
        description=f"Up to {IDEMPOTENCY_KEY_MAX} characters; repeats return the first {what}.",
    )


def idempotent_response(data, replayed: bool, created: int) -> Response:
    """`created` for a new record; a repeated key answers 200 with the first one, marked replayed."""
    response = Response(data, status=status.HTTP_200_OK if replayed else created)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


# -- audiences and contacts -------------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(max_length=32)
    attributes = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=1000), required=False
    )

    class Meta:
        model = Contact
        fields = ["id", "audience", "phone", "attributes", "subscribed", "created_at"]
        read_only_fields = ["audience", "created_at"]

    def validate(self, attrs: dict) -> dict:
        audience = self.context.get("audience") or getattr(self.instance, "audience", None)
        if "phone" in attrs:
            attrs["phone"], errors = validation.contact_errors(
                audience=audience, phone_number=attrs["phone"], instance=self.instance
            )
            if errors:
                raise serializers.ValidationError(errors)
        return attrs


class AudienceSerializer(serializers.ModelSerializer):
    contact_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Audience
        fields = ["id", "name", "description", "contact_count", "created_at"]
        read_only_fields = ["created_at"]


class AudienceViewSet(ApiMixin, viewsets.ModelViewSet):
    """Audiences; their contacts are under `/api/audiences/{id}/contacts/`."""

    serializer_class = AudienceSerializer
    queryset = Audience.objects.all()
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return Audience.objects.annotate(contact_count=Count("contacts"))

    def perform_create(self, serializer):
        serializer.save()
        serializer.instance.contact_count = 0  # the answer has every field retrieve has

    @extend_schema(
        methods=["get"],
        responses=ContactSerializer(many=True),
        parameters=[
            OpenApiParameter("phone", str, description="One number exactly (E.164)."),
            OpenApiParameter("subscribed", bool, description="Only subscribed (true) or unsubscribed."),
        ],
    )
    @extend_schema(
        methods=["post"],
        request=ContactSerializer(many=True),
        responses={201: ContactSerializer(many=True)},
        description=f"Add up to {CONTACTS_PER_REQUEST} contacts (a list, or one object). Any invalid row "
        "stores none; the errors are listed by row.",
    )
    @action(detail=True, methods=["get", "post"])
    def contacts(self, request, pk=None):
        audience = self.get_object()
        if request.method == "GET":
            contacts = audience.contacts.all()
            phone = query_str(request, "phone", 32)
            if phone:
                contacts = contacts.filter(phone=phone)
            subscribed = pagination.boolean(request, "subscribed")
            if subscribed is not None:
                contacts = contacts.filter(subscribed=subscribed)
            page = self.paginate_queryset(contacts)
            return self.get_paginated_response(ContactSerializer(page, many=True).data)
        rows = request.data if isinstance(request.data, list) else [request.data]
        if not rows or len(rows) > CONTACTS_PER_REQUEST:
            raise exceptions.ValidationError(
                {"non_field_errors": [f"Send 1 to {CONTACTS_PER_REQUEST} contacts per request."]}
            )
        serializer = ContactSerializer(data=rows, many=True, context={"audience": audience})
        if not serializer.is_valid():
            errors = serializer.errors
            if isinstance(errors, list):
                errors = {str(i): e for i, e in enumerate(errors) if e}
            if all(str(key).isdigit() for key in errors):  # per row, named by its position
                errors = {"rows": errors}
            raise exceptions.ValidationError(errors)
        phones = [row["phone"] for row in serializer.validated_data]
        repeated = {p for p in phones if phones.count(p) > 1}
        if repeated:
            raise exceptions.ValidationError({"phone": [f"Listed twice: {', '.join(sorted(repeated))}."]})
        with transaction.atomic():
            created = Contact.objects.bulk_create(
                [Contact(audience=audience, **row) for row in serializer.validated_data]
            )
        return Response(ContactSerializer(created, many=True).data, status=status.HTTP_201_CREATED)


class ContactViewSet(
    ApiMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """One contact: read, change (e.g. `subscribed`), delete. Filter with `?audience=`, `?phone=`."""

    serializer_class = ContactSerializer
    queryset = Contact.objects.all()
    lookup_value_regex = r"\d+"

    @extend_schema(
        parameters=[
            OpenApiParameter("audience", int, description="Audience id."),
            OpenApiParameter("phone", str, description="One number exactly (E.164)."),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        contacts = Contact.objects.all()
        audience = query_int(self.request, "audience")
        if audience is not None:
            contacts = contacts.filter(audience_id=audience)
        phone = query_str(self.request, "phone", 32)
        if phone:
            contacts = contacts.filter(phone=phone)
        return contacts


# -- segments ---------------------------------------------------------------------------------------


class SegmentSerializer(serializers.ModelSerializer):
    audience = serializers.PrimaryKeyRelatedField(queryset=Audience.objects.all())
    rules = serializers.JSONField(
        required=False,
        help_text="A list of rules: attribute (equals, contains, in, between, date_between), subscribed, "
        "country, engagement (delivered, read, clicked, replied in the last N days). See docs/segments.md.",
    )

    class Meta:
        model = Segment
        fields = ["id", "name", "audience", "description", "match", "rules", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate_rules(self, value):
        try:
            return segments.clean_rules(value)
        except segments.SegmentError as exc:
            raise serializers.ValidationError({k: [v] for k, v in exc.errors.items()}) from None

    def validate(self, attrs: dict) -> dict:
        audience = attrs.get("audience", getattr(self.instance, "audience", None))
        name = attrs.get("name", getattr(self.instance, "name", None))
        clash = Segment.objects.filter(audience=audience, name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
            if (
                "audience" in attrs
                and attrs["audience"] != self.instance.audience
                and self.instance.campaigns.exists()
            ):
                raise serializers.ValidationError(
                    {"audience": ["Campaigns use this segment; its audience stays."]}
                )
        if clash.exists():
            raise serializers.ValidationError({"name": [f"{audience} already has a segment named {name}."]})
        return attrs


SegmentCountSerializer = inline_serializer(
    "SegmentCount",
    {
        "count": serializers.IntegerField(help_text="Contacts matching the rules."),
        "subscribed": serializers.IntegerField(help_text="Of them, subscribed: a campaign's recipients."),
    },
)


class SegmentViewSet(ApiMixin, viewsets.ModelViewSet):
    """Segments: saved filters over an audience's contacts; `count` evaluates one in the database.
    Filter the list with `?audience=`."""

    serializer_class = SegmentSerializer
    queryset = Segment.objects.all()
    lookup_value_regex = r"\d+"

    @extend_schema(parameters=[OpenApiParameter("audience", int)])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        found = Segment.objects.select_related("audience")
        audience = query_int(self.request, "audience")
        return found.filter(audience_id=audience) if audience is not None else found

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    @extend_schema(responses=SegmentCountSerializer)
    @action(detail=True, methods=["get"])
    def count(self, request, pk=None):
        found = segments.contacts(self.get_object())
        return Response({"count": found.count(), "subscribed": found.filter(subscribed=True).count()})


# -- campaigns ------------------------------------------------------------------------------------------


class PlaceholderSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=["attribute", "literal"])
    value = serializers.CharField(max_length=1000, allow_blank=True)


class VariantSerializer(serializers.Serializer):
    label = serializers.ChoiceField(choices=["A", "B", "C", "D"], help_text="A, B, ... in order.")
    template = serializers.PrimaryKeyRelatedField(queryset=MessageTemplate.objects.all())
    placeholder_mapping = PlaceholderSerializer(many=True, required=False)
    split = serializers.IntegerField(
        min_value=1, max_value=99, help_text="Percent of the contacts sent to; the splits add up to 100."
    )


class CampaignSerializer(serializers.ModelSerializer):
    provider = serializers.PrimaryKeyRelatedField(queryset=Provider.objects.all())
    template = serializers.PrimaryKeyRelatedField(queryset=MessageTemplate.objects.all())
    audience = serializers.PrimaryKeyRelatedField(queryset=Audience.objects.all())
    segment = serializers.PrimaryKeyRelatedField(
        queryset=Segment.objects.all(),
        required=False,
        allow_null=True,
        help_text="Send only to this segment of the audience (null: every subscribed contact).",
    )
    placeholder_mapping = PlaceholderSerializer(many=True, required=False)
    schedule_timezone = serializers.CharField(max_length=64, required=False)
    dlt_template_id = serializers.CharField(max_length=30, required=False, allow_blank=True)
    variants = VariantSerializer(
        many=True,
        required=False,
        help_text="A/B variants (2-4, or none); given, they replace the campaign's variants.",
    )
    waiting_for_window = serializers.SerializerMethodField(
        help_text="Messages waiting for their send window (in each contact's local time)."
    )

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "provider",
            "template",
            "audience",
            "segment",
            "placeholder_mapping",
            "sms_fallback_text",
            "dlt_template_id",
            "click_tracking",
            "scheduled_at",
            "schedule_timezone",
            "send_rules",
            "window_start",
            "window_end",
            "window_timezone",
            "frequency_cap",
            "frequency_period_hours",
            "send_until",
            "ttl_hours",
            "expires_at",
            "status",
            "total_count",
            "sent_count",
            "delivered_rcs_count",
            "delivered_sms_count",
            "read_count",
            "clicked_count",
            "replied_count",
            "failed_count",
            "processed_count",
            "cancelled_count",
            "variants",
            "holdout_percent",
            "holdout_count",
            "test_percent",
            "winner_metric",
            "winner_after_minutes",
            "winner_variant",
            "winner_picked_at",
            "skipped_count",
            "expired_count",
            "waiting_for_window",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = [
            "holdout_count",
            "winner_variant",
            "winner_picked_at",
            "status",
            "total_count",
            "sent_count",
            "delivered_rcs_count",
            "delivered_sms_count",
            "read_count",
            "clicked_count",
            "replied_count",
            "failed_count",
            "processed_count",
            "cancelled_count",
            "skipped_count",
            "expired_count",
            "expires_at",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_waiting_for_window(self, campaign: Campaign) -> int:
        from .sendrules import waiting_for_window

        # Only a sending or paused campaign can have any (cancel and expiry end them): no query else.
        active = campaign.status in (Campaign.Status.SENDING, Campaign.Status.PAUSED)
        return waiting_for_window(campaign).count if campaign.pk and active else 0

    def validate_schedule_timezone(self, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise serializers.ValidationError("Use an IANA time zone name, e.g. Asia/Kolkata.") from None
        return value

    def validate(self, attrs: dict) -> dict:
        instance = self.instance
        if instance is not None and instance.status not in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED):
            raise serializers.ValidationError(
                {"status": [f"A {instance.get_status_display().lower()} campaign cannot be changed."]}
            )

        def value(name: str, default: Any = None) -> Any:
            return attrs.get(name, getattr(instance, name, default))

        errors = validation.campaign_errors(
            provider=value("provider"),
            template=value("template"),
            placeholder_mapping=value("placeholder_mapping", [])
            if "placeholder_mapping" in attrs or instance is None
            else None,
            sms_fallback_text=value("sms_fallback_text", "") or "",
            dlt_template_id=value("dlt_template_id", "") or "",
            click_tracking=value("click_tracking", Campaign.ClickTracking.OFF),
            audience=value("audience"),
            segment=value("segment"),
        )
        if "variants" in attrs:
            variants = attrs["variants"]
        else:
            variants = validation.stored_variants(instance) if instance is not None else []
        experiment = validation.experiment_errors(
            provider=value("provider"),
            holdout_percent=value("holdout_percent", 0),
            test_percent=value("test_percent", 0),
            winner_after_minutes=value("winner_after_minutes", 240),
            variants=variants,
        )
        for name, messages in experiment.items():
            errors.setdefault(name, []).extend(messages)
        rule_errors = validation.send_rule_errors(
            window_start=value("window_start"),
            window_end=value("window_end"),
            window_timezone=value("window_timezone", "") or "",
            frequency_period_hours=value("frequency_period_hours"),
            send_until=attrs.get("send_until"),
            ttl_hours=value("ttl_hours"),
            launching=True,
        )
        for name, messages in rule_errors.items():
            errors.setdefault(name, []).extend(messages)
        for name in [n for n in errors if "." in n]:  # a placeholder's messages, under placeholder_mapping
            errors.setdefault(name.split(".")[0], []).extend(errors.pop(name))
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["variants"] = [
            {
                "label": v.label,
                "template": v.template_id,
                "placeholder_mapping": v.placeholder_mapping,
                "split": v.split,
            }
            for v in instance.variants.all()
        ]
        return data

    def create(self, validated_data):
        variants = validated_data.pop("variants", None)
        campaign = super().create(validated_data)
        if variants is not None:
            self._save_variants(campaign, variants)
        return campaign

    def update(self, instance, validated_data):
        variants = validated_data.pop("variants", None)
        campaign = super().update(instance, validated_data)
        if variants is not None:
            self._save_variants(campaign, variants)
        return campaign

    @staticmethod
    def _save_variants(campaign: Campaign, variants: list[dict]) -> None:
        from . import experiments

        rows = [
            {**v, "placeholder_mapping": [dict(e) for e in v.get("placeholder_mapping", [])]}
            for v in variants
        ]
        experiments.variants_save(campaign=campaign, variants=rows)


def _lifecycle(name: str):
    def handler(self, request, pk=None):
        from . import services

        campaign = self.get_object()
        try:
            # A launch leaves the fan-out to a task: a request never writes the message rows.
            extra = {"background": True} if name == "launch" else {}
            getattr(services, f"campaign_{name}")(campaign_id=campaign.pk, **extra)
        except ValueError as exc:  # services.CampaignError: not allowed in the current state
            return Response({"status": [str(exc)]}, status=status.HTTP_409_CONFLICT)
        campaign.refresh_from_db()
        return Response(CampaignSerializer(campaign).data)

    handler.__name__ = name
    handler.__doc__ = f"{name.capitalize()} the campaign (409 when its status does not allow it)."
    return extend_schema(request=None, responses={200: CampaignSerializer, 409: dict})(
        action(detail=True, methods=["post"])(handler)
    )


class FunnelSerializer(serializers.Serializer):
    queued = serializers.IntegerField(allow_null=True)
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    delivered_rcs = serializers.IntegerField()
    delivered_sms = serializers.IntegerField()
    read = serializers.IntegerField()
    clicked = serializers.IntegerField()
    replied = serializers.IntegerField()
    failed = serializers.IntegerField()
    errors = inline_serializer(
        "ErrorCount", {"code": serializers.CharField(), "count": serializers.IntegerField()}, many=True
    )
    waiting = serializers.IntegerField(allow_null=True)
    waiting_capped = serializers.BooleanField()
    cancelled = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Ended unsent: frequency cap or opted out.")
    expired = serializers.IntegerField(help_text="Ended unsent: past the campaign's expiry.")
    waiting_for_window = serializers.IntegerField(
        allow_null=True, help_text="Of `waiting`, those waiting for their send window."
    )
    delivery_rate = serializers.FloatField(allow_null=True)
    ctr = serializers.FloatField(allow_null=True)
    ctr_basis = serializers.ChoiceField(choices=["delivered", "sent"])
    reply_rate = serializers.FloatField(
        allow_null=True, help_text="Replies / delivered (sent without reports)."
    )
    fallback_rate = serializers.FloatField(allow_null=True)
    conversions = serializers.IntegerField(allow_null=True, help_text="Credited to the campaign.")
    conversion_rate = serializers.FloatField(
        allow_null=True, help_text="Converted messages / delivered (sent without delivery reports)."
    )
    conversion_value = serializers.DecimalField(max_digits=16, decimal_places=2)


class PointSerializer(serializers.Serializer):
    hour = serializers.DateTimeField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    clicked = serializers.IntegerField()


class VariantFiguresSerializer(FunnelSerializer):
    variant = serializers.CharField(help_text='"A".."D", "holdout", or "" (a holdout without variants).')
    members = serializers.IntegerField(help_text="Contacts assigned (the holdout's are never sent).")
    recipient_conversion_rate = serializers.FloatField(
        allow_null=True, help_text="Converted contacts / contacts assigned (what the lift compares)."
    )


class SignificanceSerializer(serializers.Serializer):
    test = serializers.CharField(help_text='The test\'s name: "two-proportion z-test".')
    metric = serializers.ChoiceField(
        choices=["ctr", "reply_rate", "conversion_rate", "recipient_conversion_rate"]
    )
    variant = serializers.CharField()
    against = serializers.CharField(help_text='The first variant, or "holdout".')
    x1 = serializers.IntegerField()
    n1 = serializers.IntegerField()
    x2 = serializers.IntegerField()
    n2 = serializers.IntegerField()
    z = serializers.FloatField(allow_null=True)
    p = serializers.FloatField(allow_null=True, help_text="Two-sided.")
    significant = serializers.BooleanField(help_text="p < 0.05.")


class ExperimentSerializer(serializers.Serializer):
    variants = VariantFiguresSerializer(many=True)
    holdout = VariantFiguresSerializer(allow_null=True)
    tests = SignificanceSerializer(many=True)
    lift = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="Per variant: relative lift of converted per contact over the holdout (0.25 = +25 %).",
    )
    winner = serializers.CharField(help_text="Test, then send the winner: the winning variant, once picked.")


StatsSerializer = inline_serializer(
    "Stats",
    {"funnel": FunnelSerializer(), "series": PointSerializer(many=True)},
)
CampaignStatsSerializer = inline_serializer(
    "CampaignStats",
    {
        "funnel": FunnelSerializer(),
        "series": PointSerializer(many=True),
        "experiment": ExperimentSerializer(
            allow_null=True, help_text="A/B campaigns: per variant, holdout, lift (null otherwise)."
        ),
    },
)


class CampaignViewSet(ApiMixin, viewsets.ModelViewSet):
    """Campaigns: create and edit drafts, then launch, pause, resume, cancel; read stats."""

    serializer_class = CampaignSerializer
    queryset = Campaign.objects.all()
    lookup_value_regex = r"\d+"

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=Campaign.Status.values),
            OpenApiParameter("provider", int, description="Provider id."),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        campaigns = Campaign.objects.select_related("provider", "template", "audience").prefetch_related(
            "variants"
        )
        status_ = pagination.choice(self.request, "status", Campaign.Status.values)
        if status_:
            campaigns = campaigns.filter(status=status_)
        provider = query_int(self.request, "provider")
        if provider is not None:
            campaigns = campaigns.filter(provider_id=provider)
        return campaigns

    def perform_create(self, serializer):
        serializer.save(created_by=self.request.user)

    def perform_destroy(self, instance: Campaign):
        if instance.status not in (
            Campaign.Status.DRAFT,
            Campaign.Status.CANCELLED,
            Campaign.Status.COMPLETED,
        ):
            raise exceptions.ValidationError({"status": ["Cancel the campaign before deleting it."]})
        instance.delete()

    launch = _lifecycle("launch")
    pause = _lifecycle("pause")
    resume = _lifecycle("resume")
    cancel = _lifecycle("cancel")

    @extend_schema(responses=CampaignStatsSerializer)
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        campaign = self.get_object()
        points = stats.series(campaign=campaign)
        return Response(
            {
                "funnel": stats.campaign_funnel(campaign).as_dict(),
                "series": PointSerializer(points, many=True).data,
                "experiment": experiment.as_dict()
                if (experiment := stats.variant_results(campaign))
                else None,
            }
        )


class ProviderStatsView(ApiMixin, APIView):
    """A provider's funnel and hourly series since `since` (ISO 8601; default: the last 7 days)."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "since", OpenApiTypes.DATETIME, description="ISO 8601 date and time; default: 7 days ago."
            )
        ],
        responses=StatsSerializer,
    )
    def get(self, request, pk: int):
        if not request.user.has_perm("providers.view_provider"):
            raise exceptions.PermissionDenied()
        provider = get_object_or_404(Provider, pk=pk)
        since = pagination.date_time(request, "since") or timezone.now() - timezone.timedelta(days=7)
        points = stats.series(provider=provider, since=since, until=timezone.now())
        return Response(
            {
                "funnel": stats.provider_stats(provider, since=since).as_dict(),
                "series": PointSerializer(points, many=True).data,
            }
        )


# -- messages and transactional sends --------------------------------------------------------------


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "description": "The content as sent, placeholders filled (a template's content shape, see "
        "TemplateRequest.content); null for a campaign message, rendered from its campaign's template.",
        "properties": {"type": {"type": "string", "enum": list(CONTENT_TYPES)}},
        "required": ["type"],
        "additionalProperties": {},
    }
)
class MessageContentField(serializers.JSONField):
    pass


class MessageSerializer(serializers.ModelSerializer):
    content = MessageContentField(read_only=True, allow_null=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "msg_id",
            "campaign",
            "provider",
            "to",
            "content",
            "status",
            "rcs_status",
            "sms_status",
            "delivered_via",
            "error_code",
            "error_message",
            "attempts",
            "repeat_of",
            "variant",
            "created_at",
            "sent_at",
            "delivered_at",
            "read_at",
            "clicked_at",
            "replied_at",
            "failed_at",
        ]
        read_only_fields = fields


def _repeat(name: str):
    def handler(self, request, pk=None):
        from . import services

        message = self.get_object()
        try:
            attempt = getattr(services, f"message_{name}")(message_id=message.pk)
        except services.CampaignError as exc:
            return Response({"status": [str(exc)]}, status=status.HTTP_409_CONFLICT)
        return Response(MessageSerializer(attempt).data, status=status.HTTP_201_CREATED)

    handler.__name__ = name
    handler.__doc__ = {
        "retry": "Send a failed message again as a new message (new msgId), queued now (409: not failed).",
        "resend": "Send a sent, delivered or read message again as a new message, queued now (409: not).",
    }[name]
    return extend_schema(request=None, responses={201: MessageSerializer, 409: dict})(
        action(detail=True, methods=["post"])(handler)
    )


class MessageViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):
    """Messages (read-only, plus retry and resend, which create a new message). Filter with
    `?campaign=`, `?provider=`, `?status=`, `?to=`, `?msg_id=`."""

    serializer_class = MessageSerializer
    queryset = Message.objects.all()
    lookup_value_regex = r"\d+"

    @extend_schema(
        parameters=[
            OpenApiParameter("campaign", int),
            OpenApiParameter("provider", int),
            OpenApiParameter("status", str, enum=MessageStatus.values),
            OpenApiParameter("to", str),
            OpenApiParameter("msg_id", str),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    retry = _repeat("retry")
    resend = _repeat("resend")

    def get_queryset(self):
        messages = Message.objects.order_by("-id")
        for name in ("campaign", "provider"):
            value = query_int(self.request, name)
            if value is not None:
                messages = messages.filter(**{f"{name}_id": value})
        pagination.choice(self.request, "status", MessageStatus.values)
        for name in ("status", "to", "msg_id"):
            value = query_str(self.request, name, 60)
            if value:
                messages = messages.filter(**{name: value})
        return messages


class SendSerializer(serializers.Serializer):
    template = serializers.PrimaryKeyRelatedField(
        queryset=MessageTemplate.objects.select_related("provider"), help_text="Template id."
    )
    provider = serializers.PrimaryKeyRelatedField(
        queryset=Provider.objects.all(), required=False, help_text="Defaults to the template's provider."
    )
    to = serializers.CharField(max_length=32, help_text="E.164, e.g. +919812345678.")
    values = serializers.ListField(
        child=serializers.CharField(max_length=1000, allow_blank=True),
        required=False,
        default=list,
        max_length=50,
        help_text="Placeholder values in order: values[0] replaces {{1}}.",
    )

    def validate_to(self, value: str) -> str:
        return e164(value)

    def validate(self, attrs: dict) -> dict:
        template: MessageTemplate = attrs["template"]
        provider = attrs.setdefault("provider", template.provider)
        if template.provider_id != provider.pk:
            raise serializers.ValidationError({"template": ["The template belongs to another provider."]})
        if not provider.is_active:
            raise serializers.ValidationError({"provider": [f"{provider} is disabled or archived."]})
        needed = placeholders(template.content or {})
        if len(attrs["values"]) < max(needed, default=0):
            raise serializers.ValidationError(
                {"values": [f"The template needs {max(needed, default=0)} values ({{{{1}}}} and on)."]}
            )
        return attrs


class TransactionalSendView(ApiMixin, APIView):
    """Send one message to one number from a template (order confirmations, reminders).

    With an `Idempotency-Key` header, the same key (per provider) never sends twice: a repeat
    answers 200 with the message of the first request (header `Idempotent-Replayed: true`).
    The message goes through the provider's throttle like campaign messages; poll
    `/api/messages/{id}/` for its delivery status.
    """

    idempotent = True  # rcsconnect.schema documents the Idempotent-Replayed header on the 200

    @extend_schema(
        request=SendSerializer,
        responses={202: MessageSerializer, 200: MessageSerializer},
        parameters=[idempotency_parameter("message")],
    )
    def post(self, request):
        from . import services

        if not request.user.has_perm("campaigns.add_message"):
            raise exceptions.PermissionDenied()
        key = idempotency_key(request)
        serializer = SendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        earlier = Message.objects.filter(provider=data["provider"], idempotency_key=key) if key else None
        replayed = earlier is not None and earlier.exists()
        try:
            message = services.transactional_send(
                provider=data["provider"],
                template=data["template"],
                to=data["to"],
                values=data["values"],
                idempotency_key=key,
            )
        except ValueError as exc:  # services.CampaignError: a rendering or number problem
            raise exceptions.ValidationError({"non_field_errors": [str(exc)]}) from None
        except IntegrityError:  # a concurrent request with the same key won the race
            message = earlier.first() if earlier is not None else None
            if message is None:
                raise
            replayed = True
        return idempotent_response(MessageSerializer(message).data, replayed, status.HTTP_202_ACCEPTED)


# -- conversions ------------------------------------------------------------------------------------


class ConversionSerializer(serializers.ModelSerializer):
    contact = serializers.PrimaryKeyRelatedField(
        queryset=Contact.objects.all(),
        required=False,
        allow_null=True,
        help_text="Contact id (or give phone).",
    )
    phone = serializers.CharField(max_length=32, required=False, help_text="E.164 (or give contact).")
    event = serializers.CharField(max_length=100, help_text="What happened, e.g. purchase.")
    value = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=0, required=False, default=0, help_text="Its worth."
    )
    occurred_at = serializers.DateTimeField(required=False, help_text="When (ISO 8601); default: now.")

    class Meta:
        model = Conversion
        fields = [
            "id",
            "contact",
            "phone",
            "event",
            "value",
            "occurred_at",
            "source",
            "message",
            "campaign",
            "variant",
            "created_at",
        ]
        read_only_fields = ["source", "message", "campaign", "variant", "created_at"]

    def validate_phone(self, value: str) -> str:
        return e164(value)

    def validate_occurred_at(self, value):
        if value > timezone.now() + timezone.timedelta(minutes=5):
            raise serializers.ValidationError("This time is in the future.")
        return value

    def validate(self, attrs: dict) -> dict:
        contact = attrs.get("contact")
        if contact is None and not attrs.get("phone"):
            raise serializers.ValidationError({"phone": ["Give the contact's id or phone number."]})
        if contact is not None and attrs.get("phone") and attrs["phone"] != contact.phone:
            raise serializers.ValidationError({"phone": [f"Contact {contact.pk} has another number."]})
        attrs.setdefault("phone", contact.phone if contact else "")
        return attrs


class ConversionView(ApiMixin, APIView):
    """Record a conversion (a purchase, a sign-up) of a contact or phone number.

    It is credited to the campaign message the number last received or clicked within the
    attribution window (`RCS_CONVERSION_WINDOW_HOURS`), and counted in that campaign's funnel (and its
    variant's, `variant`: an A/B campaign's "A".."D" or "holdout", docs/experiments.md). With an
    `Idempotency-Key` header a repeat answers 200 with the first conversion and counts nothing.
    """

    idempotent = True

    @extend_schema(
        request=ConversionSerializer,
        responses={201: ConversionSerializer, 200: ConversionSerializer},
        parameters=[idempotency_parameter("conversion")],
    )
    def post(self, request):
        from . import conversions

        if not request.user.has_perm("campaigns.add_conversion"):
            raise exceptions.PermissionDenied()
        key = idempotency_key(request)
        serializer = ConversionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        conversion, created = conversions.record(
            phone=data["phone"],
            contact=data.get("contact"),
            event=data["event"],
            value=data.get("value", 0),
            occurred_at=data.get("occurred_at"),
            idempotency_key=key,
        )
        return idempotent_response(
            ConversionSerializer(conversion).data, not created, status.HTTP_201_CREATED
        )
