"""The dashboard's webhook form: fields only; `services.webhook_validate` decides what is valid."""

from __future__ import annotations

from django import forms

from . import services
from .models import EventType


class WebhookForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "CRM sync"}))
    url = forms.CharField(
        label="URL",
        max_length=500,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/rcs-events"}),
        help_text="Events are POSTed here as JSON, signed (docs/webhooks.md). Redirects are not followed.",
    )
    events = forms.MultipleChoiceField(
        choices=EventType.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def clean(self) -> dict:
        data = super().clean()
        errors = services.webhook_validate(
            name=data.get("name", ""), url=data.get("url", ""), events=data.get("events") or []
        )
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field, message)
        return data
