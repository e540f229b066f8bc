"""Admin: providers with search, filters and safe actions. Secrets are write-only, as on the dashboard."""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from rcsconnect import roles

from . import services
from .forms import kind_form_fields, provider_admin_form
from .kinds import registry
from .kinds.base import ProviderKind
from .models import CallbackLog, Provider, ProviderEvent, SendTest

# Read-only columns the provider's record shows at the end of its page.
RECORD = (
    "is_default",
    "health",
    "health_reason",
    "health_changed_at",
    "archived_at",
    "created_at",
    "updated_at",
)


def _kind_of(request, obj) -> type[ProviderKind] | None:
    """The provider's kind; for a new one, the `kind` chosen (?kind=<slug>, kept on the POST)."""
    slug = obj.kind if obj is not None and obj.kind else request.POST.get("kind") or request.GET.get("kind")
    try:
        return registry.get(slug or "")
    except LookupError:
        return None


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    """The change page is the dashboard's provider form (providers.forms.provider_admin_form): the kind's
    declared fields, never a raw config box; secrets write-only; everything checked by
    providers.validation, so nothing saved through the admin can be invalid. Without the change
    permission (Support) the page shows the settings read-only."""

    list_display = ("nickname", "kind", "is_default", "enabled", "archived_at", "health", "updated_at")
    list_filter = ("kind", "enabled", "is_default", "health", ("archived_at", admin.EmptyFieldListFilter))
    search_fields = ("nickname", "sender_id", "sms_sender_id")
    # Secrets and callback credentials are never rendered: write-only inputs only (the dashboard's).
    exclude = ("secrets", "callback_hmac_secrets", "callback_basic_credentials", "config", "sms_params")
    readonly_fields = ("kind", "kind_settings", "key_value_settings", "callback_token", *RECORD)
    actions = ("enable", "disable", "mark_default")

    def get_form(self, request, obj=None, change=False, **kwargs):
        kind = _kind_of(request, obj) or registry.all()[0]
        kwargs["form"] = provider_admin_form(kind)
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        kind = _kind_of(request, obj) or registry.all()[0]
        editable = self.has_change_permission(request, obj) if obj else self.has_add_permission(request)
        settings = list(kind_form_fields(kind)) if editable else ["kind_settings"]
        general = ["nickname", "sender_id", "kind", "enabled", *(["make_default"] if editable else [])]
        callbacks = ["callback_token"]
        if editable:
            callbacks += [
                "callback_hmac_secret",
                "callback_basic_username",
                "callback_basic_password",
                "callback_keep_newest_only",
                "callback_checks_off",
            ]
        return [
            (None, {"fields": general}),
            (f"{kind.name} connection", {"fields": [*settings, "key_value_settings"]}),
            ("Throughput", {"fields": ["concurrency", "max_rate"]}),
            (
                "SMS fallback",
                {
                    "fields": [
                        "sms_fallback",
                        "sms_sender_id",
                        "india",
                        "principal_entity_id",
                        "dlt_template_ids",
                    ]
                },
            ),
            ("Callbacks", {"fields": [*callbacks, "callback_require_timestamp"]}),
            ("Record", {"fields": RECORD}),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if _kind_of(request, None) is None and self.has_add_permission(request):  # choose the kind first
            context = {
                **self.admin_site.each_context(request),
                "kinds": registry.all(),
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/providers/provider/choose_kind.html", context)
        return super().add_view(request, form_url, extra_context)

    @admin.display(description="Settings")
    def kind_settings(self, obj: Provider) -> str:
        """The kind's settings read-only, in its declared order; a secret only as stored or not."""
        kind = obj.kind_class
        rows = []
        for declared in kind.declared_fields():
            if declared.store == "key_value":
                continue
            if declared.store == "secrets":
                value = "stored" if (obj.secrets or {}).get(declared.key) else "not set"
            else:
                value = (obj.config or {}).get(declared.key, "")
            rows.append((declared.label, value))
        return format_html_join(mark_safe("<br>"), "{}: {}", rows) or "-"

    @admin.display(description="Key-value lists (edited as rows on the dashboard or the API)")
    def key_value_settings(self, obj: Provider) -> str:
        kind = obj.kind_class
        lists = [
            (d.label, (obj.config or {}).get(d.key) or [])
            for d in kind.declared_fields()
            if d.store == "key_value"
        ]
        lists.append(("SMS body parameters", obj.sms_params or []))
        rows = []
        for label, items in lists:
            shown = ", ".join(
                f"{row.get('name')}={'(secret)' if row.get('secret') else row.get('value', '')}"
                for row in items
                if isinstance(row, dict)
            )
            rows.append((label, shown or "none"))
        return format_html_join(mark_safe("<br>"), "{}: {}", rows)

    def save_model(self, request, obj, form, change):
        services.provider_save(
            provider=form.build(), make_default=form.cleaned_data.get("make_default", False)
        )

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
