"""Template helpers for form widgets laid out by hand (the key/value rows)."""

from __future__ import annotations

from django import template
from django.forms import BoundField

register = template.Library()


@register.filter
def placeholder(field: BoundField, text: str) -> str:
    """The field's widget with a placeholder: `{{ row.name|placeholder:"Header name" }}`."""
    return field.as_widget(attrs={"placeholder": text})
