"""Admin: providers with search, filters and safe actions. Secrets are never shown or editable here."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from rcsconnect import roles

from . import services, validation
from .kinds import registry
from .models import CallbackLog, Provider, ProviderEvent, SendTest


class ProviderAdminForm(forms.ModelForm):
    """The same rules as the dashboard form and the API (providers.validation). A setting's error is
    shown on the config box as "<key>: <message>"; secrets are set on the dashboard or the API only."""

    kind = forms.ChoiceField(choices=registry.choices, required=False)

    class Meta:
        model = Provider
        # Secrets and callback credentials are left out: the admin never renders or edits them.
        fields = [
            "kind",
            "nickname",
            "sender_id",
            "enabled",
            "concurrency",
            "max_rate",
            "config",
            "sms_fallback",
            "sms_sender_id",
            "sms_params",
            "india",
            "principal_entity_id",
            "dlt_template_ids",
            "callback_require_timestamp",
        ]

    def clean(self):
        cleaned = super().clean()
        try:
            kind = registry.get(cleaned.get("kind") or self.instance.kind)
        except LookupError:
            self.add_error("kind" if "kind" in self.fields else None, "Choose a provider kind.")
            return cleaned
        given = cleaned.get("config")
        errors: dict[str, list[str]] = {}
        if not isinstance(given, dict):
            errors["config"] = ["Enter an object of settings."]
            given = {}
        config, config_errors = validation.clean_config(kind, given)
        errors.update(config_errors)
        ids, problem = validation.dlt_ids(cleaned.get("dlt_template_ids") or [])
        if problem:
            errors["dlt_template_ids"] = [problem]
        config, secrets = validation.store_headers(kind, config, dict(self.instance.secrets or {}))
        values = {**cleaned, "dlt_template_ids": ids}
        errors.update(
            validation.provider_errors(
                kind=kind, config=config, secrets=secrets, values=values, instance=self.instance, skip=errors
            )
        )
        for name, messages_ in errors.items():
            field, _, rest = name.partition(".")
            for message in messages_:
                if field in self.fields:
                    self.add_error(field, f"{rest}: {message}" if rest else message)
                else:
                    self.add_error(None, f"{name}: {message} (set it on the dashboard)" if name else message)
        self.instance.kind = kind.slug
        cleaned["config"], cleaned["dlt_template_ids"] = config, ids
        self.instance.secrets = secrets
        return cleaned


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderAdminForm
    list_display = ("nickname", "kind", "is_default", "enabled", "archived_at", "health", "updated_at")
    list_filter = ("kind", "enabled", "is_default", "health", ("archived_at", admin.EmptyFieldListFilter))
    search_fields = ("nickname", "sender_id", "sms_sender_id")
    # Secrets and callback credentials are excluded: the admin never renders or edits them.
    exclude = ("secrets", "callback_hmac_secrets", "callback_basic_credentials")
    # Config (endpoints included) is checked by providers.validation like the dashboard form and the API,
    # so nothing saved through the admin can be invalid.
    readonly_fields = (
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

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "kind") if obj is not None and obj.pk else fields  # a provider never changes kind

    def save_model(self, request, obj, form, change):
        services.provider_save(provider=obj)

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
