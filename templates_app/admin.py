from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse

from .models import MessageTemplate, TemplateTestSend
from .services import template_delete, template_save
from .transfer import templates_export
from .validation import template_errors, with_defaults


class MessageTemplateAdminForm(forms.ModelForm):
    """The same rules as the builder: content and samples pass validate_content, the name its rules."""

    class Meta:
        model = MessageTemplate
        fields = [
            "provider",
            "name",
            "language",
            "format",
            "category",
            "content",
            "sample_values",
            "status",
            "rejection_reason",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "category" in self.fields:
            self.fields["category"].required = False  # not given: marketing (the model's default)

    def clean_category(self) -> str:
        return self.cleaned_data.get("category") or MessageTemplate.Category.MARKETING

    def clean(self):
        cleaned = super().clean()
        content = cleaned.get("content")
        if content is None:
            return cleaned
        cleaned["content"] = content = with_defaults(content)
        errors = template_errors(
            content=content,
            samples=cleaned.get("sample_values") or [],
            name=cleaned.get("name") or "",
            provider=cleaned.get("provider"),
            language=cleaned.get("language") or "en",
            fmt=cleaned.get("format"),
            instance=self.instance,
        )
        for key, messages_ in errors.items():
            field, _, path = key.partition(".")
            field = {"samples": "sample_values"}.get(field, field)
            for message in messages_:
                if field == "sample_values":
                    self.add_error(field, f"{key}: {message}")
                else:
                    self.add_error(
                        field, f"{path or 'message'}: {message}" if field == "content" else message
                    )
        if cleaned.get("status") == MessageTemplate.Status.REJECTED and not cleaned.get("rejection_reason"):
            self.add_error("rejection_reason", "Give the reason the vendor rejected it.")
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateAdminForm
    list_display = (
        "name",
        "language",
        "provider",
        "format",
        "category",
        "status",
        "updated_at",
        "deleted_at",
    )
    list_filter = ("status", "format", "category", "provider", ("deleted_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "provider__nickname", "rejection_reason")
    readonly_fields = ("created_at", "updated_at", "status_checked_at", "deleted_at")
    list_select_related = ("provider",)
    actions = ("export_json", "mark_submitted", "mark_draft", "delete_stopping_campaigns")

    def get_queryset(self, request):
        return MessageTemplate.all_objects.select_related("provider")

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting goes through template_delete (stops campaigns)
        return actions

    @admin.action(description="Export selected as JSON")
    def export_json(self, request, queryset):
        response = HttpResponse(
            json.dumps(templates_export(queryset), indent=2), content_type="application/json"
        )
        response["Content-Disposition"] = 'attachment; filename="templates.json"'
        return response

    @admin.action(description="Mark as submitted for approval")
    def mark_submitted(self, request, queryset):
        n = queryset.update(status=MessageTemplate.Status.SUBMITTED, rejection_reason="")
        self.message_user(request, f"{n} template(s) marked submitted.")

    @admin.action(description="Mark as draft")
    def mark_draft(self, request, queryset):
        n = queryset.update(status=MessageTemplate.Status.DRAFT, rejection_reason="")
        self.message_user(request, f"{n} template(s) marked draft.")

    @admin.action(description="Delete, cancelling campaigns that use them")
    def delete_stopping_campaigns(self, request, queryset):
        cancelled = []
        for template in queryset.filter(deleted_at__isnull=True):
            cancelled += template_delete(template=template).cancelled
        text = "Deleted." + (f" Cancelled campaigns: {', '.join(cancelled)}." if cancelled else "")
        self.message_user(request, text, messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        template_save(template=obj, content=obj.content, sample_values=list(obj.sample_values or []))

    def delete_model(self, request, obj):
        template_delete(template=obj)


@admin.register(TemplateTestSend)
class TestSendAdmin(admin.ModelAdmin):
    list_display = ("template", "to", "status", "status_code", "created_at")
    list_filter = ("status",)
    search_fields = ("to", "msg_id", "template__name")
    readonly_fields = [f.name for f in TemplateTestSend._meta.fields]

    def has_add_permission(self, request):
        return False
