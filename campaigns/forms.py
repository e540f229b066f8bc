"""Forms for audiences, CSV imports and the campaign builder."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from functools import lru_cache

import phonenumbers
from django import forms
from django.utils import timezone

from providers.models import Provider
from templates_app.models import MessageTemplate
from templates_app.rendering import placeholders

from .models import Audience, Campaign, Segment
from .segments import audience_problem
from .sms import sms_segments

SOURCES = [("attribute", "Contact attribute"), ("literal", "Literal text")]


@lru_cache(maxsize=1)
def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name or name == "UTC"]


def region_choices() -> list[tuple[str, str]]:
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    return [("", "None: numbers must start with +")] + [
        (r, f"{r} (+{phonenumbers.country_code_for_region(r)})") for r in regions
    ]


class AudienceForm(forms.ModelForm):
    class Meta:
        model = Audience
        fields = ["name", "description"]


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file", help_text="A header row with a phone column; other columns become attributes."
    )
    default_region = forms.ChoiceField(
        label="Country for numbers without +", required=False, choices=region_choices
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not (name.endswith(".csv") or name.endswith(".txt")):
            raise forms.ValidationError("Upload a .csv file.")
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        return upload


class CampaignForm(forms.ModelForm):
    """The builder. Placeholder mapping fields (map_source_<n>, map_value_<n>) follow the template."""

    schedule = forms.ChoiceField(
        choices=[("now", "Send now"), ("later", "At a time")], initial="now", widget=forms.RadioSelect
    )
    scheduled_local = forms.DateTimeField(
        label="Send at",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    schedule_timezone = forms.ChoiceField(label="Timezone", choices=timezone_choices, initial="UTC")

    class Meta:
        model = Campaign
        fields = [
            "name",
            "provider",
            "template",
            "audience",
            "segment",
            "sms_fallback_text",
            "dlt_template_id",
            "click_tracking",
            "schedule_timezone",
        ]
        widgets = {"sms_fallback_text": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = Provider.objects.active()
        self.fields["template"].queryset = MessageTemplate.objects.select_related("provider")
        self.fields["template"].label_from_instance = lambda t: f"{t.name} ({t.language}) · {t.provider}"
        self.fields["segment"].queryset = Segment.objects.select_related("audience")
        self.fields["segment"].empty_label = "Every subscribed contact of the audience"
        self.fields["segment"].label_from_instance = lambda s: f"{s.name} · {s.audience}"
        if not self.instance.pk and not self.is_bound:
            default = Provider.objects.active().default()
            if default:
                self.initial["provider"] = default.pk
        if self.instance.pk and self.instance.scheduled_at:
            tz = zoneinfo.ZoneInfo(self.instance.schedule_timezone or "UTC")
            self.initial["schedule"] = "later"
            self.initial["scheduled_local"] = self.instance.scheduled_at.astimezone(tz).replace(tzinfo=None)
        self.template_obj = self._selected_template()
        self.numbers = placeholders(self.template_obj.content or {}) if self.template_obj else []
        mapping = self.instance.placeholder_mapping or []
        for n in self.numbers:
            entry = mapping[n - 1] if n - 1 < len(mapping) and mapping[n - 1] else {}
            self.fields[f"map_source_{n}"] = forms.ChoiceField(
                label=f"{{{{{n}}}}} from", choices=SOURCES, initial=entry.get("source", "attribute")
            )
            self.fields[f"map_value_{n}"] = forms.CharField(
                label=f"{{{{{n}}}}} value", max_length=200, required=False, initial=entry.get("value", "")
            )

    def _selected_template(self) -> MessageTemplate | None:
        raw = self.data.get("template") if self.is_bound else (self.initial.get("template") or None)
        if raw:
            return MessageTemplate.objects.filter(pk=raw).first() if str(raw).isdigit() else None
        return self.instance.template if self.instance.template_id else None

    def mapping_rows(self):
        return [(n, self[f"map_source_{n}"], self[f"map_value_{n}"]) for n in self.numbers]

    @property
    def segments(self):
        text = self["sms_fallback_text"].value() or ""
        return sms_segments(text)

    def clean(self):
        data = super().clean()
        provider, template = data.get("provider"), data.get("template")
        if provider and template and template.provider_id != provider.pk:
            self.add_error(
                "template", f"This template belongs to {template.provider}; pick one of {provider}."
            )
        if problem := audience_problem(data.get("segment"), getattr(data.get("audience"), "pk", None)):
            self.add_error("segment", problem)
        mapping = []
        for n in range(1, max(self.numbers, default=0) + 1):
            if n not in self.numbers:
                mapping.append({"source": "literal", "value": ""})
                continue
            source, value = data.get(f"map_source_{n}"), (data.get(f"map_value_{n}") or "").strip()
            if not value:
                what = "an attribute name" if source == "attribute" else "the text"
                self.add_error(f"map_value_{n}", f"Give {what} for {{{{{n}}}}}.")
            mapping.append({"source": source, "value": value})
        self.instance.placeholder_mapping = mapping
        sms_text = (data.get("sms_fallback_text") or "").strip()
        if provider and sms_text:
            if not provider.sms_fallback:
                self.add_error("sms_fallback_text", f"{provider} has SMS fallback turned off.")
            elif provider.india and not data.get("dlt_template_id"):
                self.add_error("dlt_template_id", "India requires the DLT template ID of this SMS text.")
            elif provider.india and provider.dlt_template_ids:
                allowed = {
                    str(x.get("id", x) if isinstance(x, dict) else x) for x in provider.dlt_template_ids
                }
                if data.get("dlt_template_id") not in allowed:
                    self.add_error("dlt_template_id", f"Not one of {provider}'s DLT template IDs.")
        if provider:
            self._check_click_tracking(provider, data.get("click_tracking"))
        self._schedule(data)
        return data

    def _check_click_tracking(self, provider: Provider, choice: str | None) -> None:
        own = str((provider.config or {}).get("click_tracking", "off") or "off")
        if choice == Campaign.ClickTracking.OURS and own != "off":
            self.add_error(
                "click_tracking",
                f"{provider} has its own click tracking on; choose the provider's or turn it off there "
                "(never both).",
            )
        if choice == Campaign.ClickTracking.PROVIDER and own == "off":
            self.add_error("click_tracking", f"{provider} has no click tracking of its own turned on.")

    def _schedule(self, data) -> None:
        if data.get("schedule") != "later":
            self.instance.scheduled_at = None
            return
        local: datetime | None = data.get("scheduled_local")
        if local is None:
            self.add_error("scheduled_local", "Pick the date and time to send.")
            return
        tz = zoneinfo.ZoneInfo(data.get("schedule_timezone") or "UTC")
        when = local.replace(tzinfo=None).replace(tzinfo=tz)
        if when <= timezone.now():
            self.add_error("scheduled_local", "This time is in the past.")
            return
        self.instance.scheduled_at = when
