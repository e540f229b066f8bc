from __future__ import annotations

import json

from django import forms

from providers.models import Provider
from rcsconnect.forms import DashboardForm, DashboardModelForm
from rcsconnect.phone import PhoneField

from .models import MessageTemplate
from .validation import name_problems


class TemplateForm(DashboardModelForm):
    """The template's own fields; its content is parsed and checked separately (builder + limits)."""

    class Meta:
        model = MessageTemplate
        fields = ["provider", "name", "language", "format", "category", "status", "rejection_reason"]
        widgets = {"rejection_reason": forms.TextInput()}
        help_texts = {
            "name": "At most 20 letters, digits or underscores; unique per provider and language.",
            "category": "Marketing messages follow send windows, quiet hours, frequency caps and opt-outs.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = Provider.objects.filter(archived_at__isnull=True)
        if not self.instance.pk and not self.initial.get("provider"):
            self.initial["provider"] = Provider.objects.default()
        self.fields["category"].required = False  # not given: marketing (the model's default)
        self.fields["name"].validators = []  # replaced by templates_app.validation (one message per rule)

    def clean_category(self) -> str:
        return self.cleaned_data.get("category") or MessageTemplate.Category.MARKETING

    def clean(self):
        cleaned = super().clean()
        if "name" in cleaned:
            problems = name_problems(
                cleaned["name"], cleaned.get("provider"), cleaned.get("language") or "", self.instance
            )
            for message in problems.get("name", []):
                self.add_error("name", message)
        if cleaned.get("status") == MessageTemplate.Status.REJECTED and not cleaned.get("rejection_reason"):
            self.add_error("rejection_reason", "Give the reason the vendor rejected it.")
        return cleaned

    def validate_constraints(self, exclude=None):
        pass  # uniqueness among live templates is checked in clean() with a clear message


class CloneForm(DashboardForm):
    name = forms.CharField(max_length=40, help_text="A new name: at most 20 letters, digits or underscores.")
    language = forms.CharField(max_length=10)

    def __init__(self, *args, template: MessageTemplate, **kwargs):
        super().__init__(*args, **kwargs)
        self.template = template

    def clean(self):
        cleaned = super().clean()
        if "name" in cleaned:
            problems = name_problems(cleaned["name"], self.template.provider, cleaned.get("language") or "")
            for message in problems.get("name", []):
                self.add_error("name", message)
        return cleaned


class ImportForm(DashboardForm):
    file = forms.FileField(help_text="A JSON file exported from rcsconnect (one or many templates).")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 20 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 20 MB.")
        try:
            return json.loads(upload.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise forms.ValidationError(f"Not a JSON file: {exc}") from exc


class SendTestForm(DashboardForm):
    to = PhoneField(label="Phone number")

    def __init__(self, *args, placeholder_count: int = 0, initial_values=None, **kwargs):
        super().__init__(*args, **kwargs)
        for i in range(placeholder_count):
            value = initial_values[i] if initial_values and i < len(initial_values) else ""
            self.fields[f"value_{i + 1}"] = forms.CharField(
                label=f"{{{{{i + 1}}}}}", initial=value, max_length=1000
            )

    def values(self) -> list[str]:
        keys = sorted((k for k in self.fields if k.startswith("value_")), key=lambda k: int(k[6:]))
        return [self.cleaned_data[k] for k in keys]
