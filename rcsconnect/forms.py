"""The dashboard's form base classes: labels without a colon, as on every form of the dashboard
(the provider and webhook forms lay their fields out with `providers/_field.html`, which prints the
bare label too)."""

from __future__ import annotations

from django import forms


class DashboardForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class DashboardModelForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
