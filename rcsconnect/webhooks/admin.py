"""Admin: webhooks and their delivery log, for looking only. The secret is never shown; changes go
through the dashboard or the API (their validator and the generated secret). Support reads (its
role has view permissions only); admins may delete."""

from __future__ import annotations

from django.contrib import admin

from .models import Webhook, WebhookAttempt, WebhookDelivery


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(_ReadOnly):
    list_display = ("name", "url", "events", "is_active", "created_at", "secret_rotated_at")
    list_filter = ("is_active",)
    search_fields = ("name", "url")
    exclude = ("secret",)


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("number", "at", "status_code", "latency_ms", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    list_display = (
        "created_at",
        "webhook",
        "event",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status", "event", "webhook")
    search_fields = ("event_id",)
    inlines = [AttemptInline]
