"""The inbox over the REST API: conversations, a conversation's entries, and answering one.

Thin: selection and the answer's rules are `campaigns.inbox` (the dashboard's inbox calls the same).
A conversation is one (provider, phone) pair: `/api/inbox/conversations/{provider_id}/{phone}/...`.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from providers.models import Provider
from rcsconnect.api import ApiMixin, error_responses, paginated, query_str
from rcsconnect.pagination import StrictLimitOffsetPagination
from rcsconnect.phone import from_query as query_phone

from . import inbox
from .models import InboxMessage


class ContactBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    subscribed = serializers.BooleanField()


class ConversationSerializer(serializers.Serializer):
    provider_id = serializers.IntegerField(source="provider.pk")
    provider = serializers.CharField(source="provider.nickname")
    phone = serializers.CharField()
    contact = ContactBriefSerializer(allow_null=True)
    last_at = serializers.DateTimeField()
    entries = serializers.IntegerField(help_text="Entries in the conversation, both ways.")
    last_text = serializers.CharField()
    last_direction = serializers.ChoiceField(choices=InboxMessage.Direction.choices)
    unread = serializers.SerializerMethodField(
        help_text="The latest entry was received: nobody has answered since."
    )

    def get_unread(self, conversation) -> bool:
        return conversation.last_direction == InboxMessage.Direction.INBOUND


class AnsweredMessageSerializer(serializers.Serializer):
    """The message an entry answers (received) or carries (sent): its text and delivery status."""

    id = serializers.IntegerField()
    msg_id = serializers.CharField()
    campaign_id = serializers.IntegerField(allow_null=True)
    campaign = serializers.CharField(source="campaign.name", allow_null=True, default=None)
    text = serializers.SerializerMethodField()
    status = serializers.CharField()
    sent_at = serializers.DateTimeField(allow_null=True)

    def get_text(self, message) -> str:
        content = message.content or {}
        return str(content.get("text") or content.get("title") or "")


class EntrySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=InboxMessage.Direction.choices)
    text = serializers.CharField()
    postback_data = serializers.CharField(help_text="A suggestion tap's data (received entries).")
    action = serializers.ChoiceField(
        choices=InboxMessage.Action.choices, help_text="opt_out / opt_in when the entry was STOP / START."
    )
    message = AnsweredMessageSerializer(allow_null=True)
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


class ReplySerializer(serializers.Serializer):
    text = serializers.CharField(max_length=inbox.REPLY_MAX, allow_blank=True, trim_whitespace=False)


class _Pages(StrictLimitOffsetPagination):
    """The API's limit/offset pages over a list worked out by the inbox module."""

    def page_of(self, request, count: int) -> tuple[int, int]:
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        self.count = count
        return self.limit, self.offset


_PAGE_PARAMETERS = [
    OpenApiParameter(p["name"], {**p["schema"]}, description=p["description"])
    for p in StrictLimitOffsetPagination().get_schema_operation_parameters(None)
]


def _phone(request) -> str:
    """The `phone` filter; an unencoded "+" arrives as a space, and a number without it is E.164 too."""
    raw = query_str(request, "phone", 20) or ""
    return query_phone(raw) if raw.strip() else ""


def _unread(request) -> bool | None:
    raw = query_str(request, "unread", 5)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise exceptions.ValidationError({"unread": ["Use true or false."]})
    return raw.lower() in ("true", "1")


class ConversationListView(ApiMixin, APIView):
    @extend_schema(
        operation_id="inbox_conversations_list",
        parameters=[
            OpenApiParameter(
                "unread", bool, description="Only conversations awaiting an answer (or, false, answered)."
            ),
            OpenApiParameter(
                "phone",
                str,
                description="One number exactly, E.164 (%2B919812345678; the + may be left out).",
            ),
            OpenApiParameter("q", str, description="Matches a number or any text in the conversation."),
            *_PAGE_PARAMETERS,
        ],
        responses={200: paginated(ConversationSerializer), **error_responses(400, 401, 403)},
        description="Conversations, most recent first; paginated like every list "
        "(`count`, `next`, `previous`, `results`).",
    )
    def get(self, request):
        filters = {
            "query": query_str(request, "q", 100) or "",
            "phone": _phone(request),
            "unread": _unread(request),
        }
        pages = _Pages()
        limit, offset = pages.page_of(request, inbox.conversation_count(**filters))
        found = inbox.conversations(**filters, limit=limit, offset=offset)
        return pages.get_paginated_response(ConversationSerializer(found, many=True).data)


def _provider(provider_id: int) -> Provider:
    return get_object_or_404(Provider, pk=provider_id)


class ConversationMessagesView(ApiMixin, APIView):
    @extend_schema(
        operation_id="inbox_conversation_messages",
        parameters=_PAGE_PARAMETERS,
        responses={200: paginated(EntrySerializer), **error_responses(401, 403, 404)},
        description="Every entry of the conversation, oldest first: replies received and answers sent, each "
        "with the message it answers or carries.",
    )
    def get(self, request, provider_id: int, phone: str):
        entries = inbox.thread(provider=_provider(provider_id), phone=phone)
        if not entries:
            raise exceptions.NotFound("No conversation with this number.")
        pages = _Pages()
        limit, offset = pages.page_of(request, len(entries))
        page = entries[offset : offset + limit]
        return pages.get_paginated_response(EntrySerializer(page, many=True).data)


class ConversationReplyView(ApiMixin, APIView):
    @extend_schema(
        operation_id="inbox_conversation_reply",
        request=ReplySerializer,
        responses={201: EntrySerializer, **error_responses(400, 401, 403, 404)},
        description="Answer the conversation: a TEXT message queued through the same provider and throttle. "
        "Refused (400, on `text`) when empty or too long, when the provider is disabled, or when the number "
        "unsubscribed.",
    )
    def post(self, request, provider_id: int, phone: str):
        provider = _provider(provider_id)
        serializer = ReplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not InboxMessage.objects.filter(provider=provider, phone=phone).exists():
            raise exceptions.NotFound("No conversation with this number.")
        try:
            entry = inbox.inbox_reply(
                provider=provider, phone=phone, text=serializer.validated_data["text"], user=request.user
            )
        except inbox.InboxError as exc:
            raise exceptions.ValidationError({"text": [str(exc)]}) from None
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)
