"""The API's URLs: the router over every app's viewsets and the single views.

Kept apart from `rcsconnect.api` (the shared helpers each app's `api.py` imports) so that no two modules
import each other: the apps' API modules import the helpers, and only this module imports the apps.
"""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework import routers

from campaigns.api import (
    AudienceViewSet,
    CampaignViewSet,
    ContactViewSet,
    ConversionView,
    MessageViewSet,
    ProviderStatsView,
    SegmentViewSet,
    TransactionalSendView,
)
from campaigns.api_inbox import ConversationListView, ConversationMessagesView, ConversationReplyView
from providers.api import ProviderViewSet
from templates_app.api import TemplateViewSet

from .api import DocsView, RedocView, TokenView
from .webhooks.api import WebhookViewSet


def _router() -> routers.DefaultRouter:
    router = routers.DefaultRouter()
    router.register("providers", ProviderViewSet, basename="provider")
    router.register("templates", TemplateViewSet, basename="template")
    router.register("audiences", AudienceViewSet, basename="audience")
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("segments", SegmentViewSet, basename="segment")
    router.register("campaigns", CampaignViewSet, basename="campaign")
    router.register("messages", MessageViewSet, basename="message")
    router.register("webhooks", WebhookViewSet, basename="webhook")
    return router


def _urls() -> list:
    conversation = "inbox/conversations/<int:provider_id>/<str:phone>/"
    return [
        path("schema/", SpectacularAPIView.as_view(), name="schema"),
        path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
        path("redoc/", RedocView.as_view(url_name="api:schema"), name="redoc"),
        path("token/", TokenView.as_view(), name="token"),
        path("send/", TransactionalSendView.as_view(), name="send"),
        path("conversions/", ConversionView.as_view(), name="conversions"),
        path("providers/<int:pk>/stats/", ProviderStatsView.as_view(), name="provider-stats"),
        path("inbox/conversations/", ConversationListView.as_view(), name="inbox-conversations"),
        path(conversation + "messages/", ConversationMessagesView.as_view(), name="inbox-messages"),
        path(conversation + "reply/", ConversationReplyView.as_view(), name="inbox-reply"),
        path("", include(_router().urls)),
    ]


urlpatterns = _urls()
app_name = "api"
