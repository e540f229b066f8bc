"""Admin: providers with search, filters and safe actions. Secrets are never shown or editable here."""

from __future__ import annotations

from django.contrib import admin, messages

from rcsconnect import roles

from . import services
from .models import CallbackLog, Provider, ProviderEvent, SendTest


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ("nickname", "kind", "is_default", "enabled", "archived_at", "health", "updated_at")
    list_filter = ("kind", "enabled", "is_default", "health", ("archived_at", admin.EmptyFieldListFilter))
    search_fields = ("nickname", "sender_id", "sms_sender_id")
    # Secrets and callback credentials are excluded: the admin never renders or edits them.
    exclude = ("secrets", "callback_hmac_secrets", "callback_basic_credentials")
    # Config (endpoints included) is shown, never edited here: only the dashboard's validated form and the
    # API's serializer change it, so nothing saved through the admin can be invalid.
    readonly_fields = (
        "kind",
        "config",
        "is_default",
        "callback_token",
        "health",
        "health_reason",
        "health_changed_at",
        "archived_at",
        "created_at",
        "updated_at",
    )
    actions = ("enable", "disable", "mark_default")

    @admin.action(description="Enable selected providers", permissions=["operate"])
    def enable(self, request, queryset):
        self._each(request, queryset, lambda p: services.provider_set_enabled(provider_id=p.pk, enabled=True))

    @admin.action(description="Disable selected providers", permissions=["operate"])
    def disable(self, request, queryset):
        self._each(
            request, queryset, lambda p: services.provider_set_enabled(provider_id=p.pk, enabled=False)
        )

    @admin.action(description="Mark as default (select exactly one)", permissions=["operate"])
    def mark_default(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one provider to mark as default.", messages.ERROR)
            return
        self._each(request, queryset, lambda p: services.provider_mark_default(provider_id=p.pk))

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm(roles.OPERATE_PROVIDER)

    def _each(self, request, queryset, operation):
        done = 0
        for provider in queryset:
            try:
                operation(provider)
                done += 1
            except services.ProviderError as exc:
                self.message_user(request, f"{provider}: {exc}", messages.ERROR)
        if done:
            self.message_user(request, f"Updated {done} provider(s).", messages.SUCCESS)


@admin.register(ProviderEvent)
class ProviderEventAdmin(admin.ModelAdmin):
    list_display = ("msg_id", "provider", "channel", "status", "occurred_at", "received_at", "applied")
    list_filter = ("status", "channel", "applied", "provider")
    search_fields = ("msg_id",)
    readonly_fields = [f.name for f in ProviderEvent._meta.fields]


@admin.register(CallbackLog)
class CallbackLogAdmin(admin.ModelAdmin):
    list_display = ("id", "provider", "received_at", "event_count", "error")
    list_filter = ("provider",)
    readonly_fields = [f.name for f in CallbackLog._meta.fields]


@admin.register(SendTest)
class SendTestAdmin(admin.ModelAdmin):
    list_display = ("msg_id", "provider", "to", "state", "outcome", "error_code", "created_at")
    list_filter = ("state", "outcome", "provider")
    search_fields = ("msg_id", "to")
    readonly_fields = [f.name for f in SendTest._meta.fields]
