"""Forms for audiences, CSV imports and the campaign builder."""

from __future__ import annotations

import functools
import zoneinfo
from datetime import datetime

from django import forms
from django.utils import timezone

from providers.models import Provider
from rcsconnect import phone, timezones
from rcsconnect.form_errors import add_errors
from rcsconnect.forms import DashboardForm, DashboardModelForm
from templates_app.models import MessageTemplate
from templates_app.rendering import placeholders

from . import validation
from .models import Audience, Campaign, Segment
from .sms import sms_segments
from .validation import missing_value_message

SOURCES = [("attribute", "Contact attribute"), ("literal", "Literal text")]


def add_mapping_fields(form: forms.BaseForm, numbers, mapping) -> None:
    """A source choice and a value for each placeholder number, with the stored mapping's as initial."""
    for n in numbers:
        entry = mapping[n - 1] if n - 1 < len(mapping) and mapping[n - 1] else {}
        form.fields[f"map_source_{n}"] = forms.ChoiceField(
            label=f"{{{{{n}}}}} from", choices=SOURCES, initial=entry.get("source", "attribute")
        )
        form.fields[f"map_value_{n}"] = forms.CharField(
            label=f"{{{{{n}}}}} value", max_length=200, required=False, initial=entry.get("value", "")
        )


class AudienceForm(DashboardModelForm):
    class Meta:
        model = Audience
        fields = ["name", "description"]


class ImportForm(DashboardForm):
    file = forms.FileField(
        label="CSV file", help_text="A header row with a phone column; other columns become attributes."
    )
    default_region = forms.ChoiceField(
        label="Country for numbers without +",
        required=False,
        choices=functools.partial(phone.region_choices, none="None: numbers must start with +"),
        initial=phone.default_region,
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not (name.endswith(".csv") or name.endswith(".txt")):
            raise forms.ValidationError("Upload a .csv file.")
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        return upload


EXPERIMENT_FIELDS = ("holdout_percent", "test_percent", "winner_metric", "winner_after_minutes")


class CampaignForm(DashboardModelForm):
    """The builder. Placeholder mapping fields (map_source_<n>, map_value_<n>) follow the template.

    `user_timezone` is the timezone a new campaign's time is entered in (the user's profile setting).
    """

    schedule = forms.ChoiceField(
        choices=[("now", "Send now"), ("later", "At a time")], initial="now", widget=forms.RadioSelect
    )
    scheduled_local = forms.DateTimeField(
        label="Send at",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    schedule_timezone = timezones.timezone_field(initial=timezones.DEFAULT)
    # Send rules (campaigns.sendrules).
    window_timezone = forms.ChoiceField(
        label="Window timezone",
        required=False,
        choices=lambda: [("", "Each contact's local time"), *timezones.choices()],
        widget=timezones.TimezoneSelect,
        help_text="Each contact's own time (its timezone attribute, else its number's), or one zone for all.",
    )
    send_until_local = forms.DateTimeField(
        label="Do not send after",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In the schedule's timezone. Messages not sent by then end expired.",
    )

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
            # Experiments (campaigns.experiments; the variants are edited on their own page).
            "holdout_percent",
            "test_percent",
            "winner_metric",
            "winner_after_minutes",
            "send_rules",
            "window_start",
            "window_end",
            "window_timezone",
            "frequency_cap",
            "frequency_period_hours",
            "ttl_hours",
        ]
        widgets = {
            "sms_fallback_text": forms.Textarea(attrs={"rows": 3}),
            "window_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "window_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        labels = {
            "holdout_percent": "Holdout group (%)",
            "test_percent": "Test first on (%)",
            "winner_metric": "Pick the winner by",
            "winner_after_minutes": "Pick the winner after (minutes)",
            "send_rules": "Send rules",
            "window_start": "Send window from",
            "window_end": "until",
            "frequency_cap": "Frequency cap",
            "frequency_period_hours": "per (hours)",
            "ttl_hours": "Time to live (hours)",
        }
        help_texts = {
            "holdout_percent": "Contacts who get nothing and are measured for lift (0-50 %; 0: none).",
            "test_percent": "Test, then send the winner: the variants go to this share of the contacts "
            "first, the winner to the rest (0: send the variants to everyone).",
            "send_rules": "Windows, quiet hours, the cap and opt-outs apply to marketing templates "
            "unless set here.",
            "frequency_cap": "Marketing messages per contact across all campaigns; empty: the installation's "
            "setting, 0: no cap.",
            "frequency_period_hours": "The rolling period; empty: the installation's setting.",
            "ttl_hours": "From launch; messages not sent by then end expired.",
        }

    def __init__(self, *args, user_timezone: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk and timezones.is_valid(user_timezone):
            self.initial["schedule_timezone"] = user_timezone
        self.fields["send_rules"].required = False  # not given: as the template's category says
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
        for name in EXPERIMENT_FIELDS:  # optional: left out or empty, the model's default
            self.fields[name].required = False
        if self.instance.pk and self.instance.send_until:
            tz = zoneinfo.ZoneInfo(self.instance.schedule_timezone or "UTC")
            self.initial["send_until_local"] = self.instance.send_until.astimezone(tz).replace(tzinfo=None)
        self.template_obj = self._selected_template()
        self.numbers = placeholders(self.template_obj.content or {}) if self.template_obj else []
        mapping = self.instance.placeholder_mapping or []
        add_mapping_fields(self, self.numbers, mapping)

    def _selected_template(self) -> MessageTemplate | None:
        raw = self.data.get("template") if self.is_bound else (self.initial.get("template") or None)
        if raw:
            return MessageTemplate.objects.filter(pk=raw).first() if str(raw).isdigit() else None
        return self.instance.template if self.instance.template_id else None

    def mapping_rows(self):
        """(n, source field, value field, the message for an empty value by source) per placeholder."""
        return [
            (
                n,
                self[f"map_source_{n}"],
                self[f"map_value_{n}"],
                {source: missing_value_message(n, source) for source, _ in SOURCES},
            )
            for n in self.numbers
        ]

    def mapping(self) -> list[dict[str, str]]:
        """The placeholder mapping as entered (bound or not), without validating it."""
        return self._collect_mapping(
            lambda n: (self[f"map_source_{n}"].value(), self[f"map_value_{n}"].value())
        )

    def _collect_mapping(self, entered) -> list[dict[str, str]]:
        """mapping[n-1] = {"source", "value"}; `entered(n)` gives the source and value of {{n}}."""
        mapping = []
        for n in range(1, max(self.numbers, default=0) + 1):
            if n not in self.numbers:
                mapping.append({"source": "literal", "value": ""})
                continue
            source, value = entered(n)
            mapping.append({"source": source or "attribute", "value": str(value or "").strip()})
        return mapping

    @property
    def segments(self):
        text = self["sms_fallback_text"].value() or ""
        return sms_segments(text)

    def clean(self):
        data = super().clean()
        for name in EXPERIMENT_FIELDS:
            if data.get(name) in (None, ""):
                data[name] = Campaign._meta.get_field(name).get_default()
        mapping = self._collect_mapping(lambda n: (data.get(f"map_source_{n}"), data.get(f"map_value_{n}")))
        self.instance.placeholder_mapping = mapping
        errors = validation.campaign_errors(
            provider=data.get("provider"),
            template=data.get("template"),
            placeholder_mapping=mapping,
            sms_fallback_text=data.get("sms_fallback_text") or "",
            dlt_template_id=data.get("dlt_template_id") or "",
            click_tracking=data.get("click_tracking") or Campaign.ClickTracking.OFF,
            audience=data.get("audience"),
            segment=data.get("segment"),
        )
        self._send_until(data)
        errors = {**errors}
        rule_errors = validation.send_rule_errors(
            window_start=data.get("window_start"),
            window_end=data.get("window_end"),
            window_timezone=data.get("window_timezone") or "",
            frequency_period_hours=data.get("frequency_period_hours"),
            send_until=self.instance.send_until,
            ttl_hours=data.get("ttl_hours"),
        )
        experiment = validation.experiment_errors(
            provider=data.get("provider"),
            holdout_percent=data.get("holdout_percent") or 0,
            test_percent=data.get("test_percent") or 0,
            winner_after_minutes=data.get("winner_after_minutes") or 0,
            variants=validation.stored_variants(self.instance) if self.instance.pk else (),
            # The variants are added once the campaign is saved: the launch checks there are some.
            require_variants=False,
        )
        for name, messages in [*rule_errors.items(), *experiment.items()]:
            errors.setdefault(name, []).extend(messages)
        add_errors(self, errors, field_for=validation.form_field)
        self._schedule(data)
        return data

    def clean_send_rules(self) -> str:
        return self.cleaned_data.get("send_rules") or Campaign.Rules.CATEGORY

    def _send_until(self, data) -> None:
        local: datetime | None = data.get("send_until_local")
        if local is None:
            self.instance.send_until = None
            return
        tz = zoneinfo.ZoneInfo(data.get("schedule_timezone") or "UTC")
        self.instance.send_until = local.replace(tzinfo=None).replace(tzinfo=tz)

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


class VariantForm(DashboardForm):
    """One variant of an A/B campaign (prefix: its label): used or not, its template, share and
    placeholder mapping (map_source_<n>, map_value_<n>, for the template's placeholders)."""

    use = forms.BooleanField(label="Use this variant", required=False)
    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.none(), required=False)
    split = forms.IntegerField(label="Share (%)", min_value=1, max_value=99, required=False)

    def __init__(self, *args, campaign: Campaign, label: str, variant=None, **kwargs):
        kwargs.setdefault("prefix", label)
        super().__init__(*args, **kwargs)
        self.label = label
        self.fields["template"].queryset = MessageTemplate.objects.filter(provider_id=campaign.provider_id)
        self.fields["template"].label_from_instance = lambda t: f"{t.name} ({t.language})"
        mapping = (variant.placeholder_mapping if variant else None) or campaign.placeholder_mapping or []
        if not self.is_bound:
            self.initial.update(
                use=variant is not None,
                template=variant.template_id if variant else campaign.template_id,
                split=variant.split if variant else None,
            )
        raw = self.data.get(self.add_prefix("template")) if self.is_bound else self.initial.get("template")
        template = MessageTemplate.objects.filter(pk=raw).first() if str(raw or "").isdigit() else None
        self.numbers = placeholders(template.content or {}) if template else []
        add_mapping_fields(self, self.numbers, mapping)

    def mapping_rows(self):
        return [(n, self[f"map_source_{n}"], self[f"map_value_{n}"]) for n in self.numbers]

    def entry(self) -> dict:
        """The variant as `validation.experiment_errors` takes it (after is_valid)."""
        data = self.cleaned_data
        mapping = []
        for n in range(1, max(self.numbers, default=0) + 1):
            if n not in self.numbers:
                mapping.append({"source": "literal", "value": ""})
                continue
            source = data.get(f"map_source_{n}") or "attribute"
            mapping.append({"source": source, "value": str(data.get(f"map_value_{n}") or "").strip()})
        return {
            "label": self.label,
            "template": data.get("template"),
            "placeholder_mapping": mapping,
            "split": data.get("split"),
        }

    def add_errors(self, errors: dict[str, list[str]]) -> None:
        """This variant's errors from `validation.experiment_errors` ("variants.<label>.<name>")."""
        prefix = f"variants.{self.label}."
        for name, messages in errors.items():
            if not name.startswith(prefix):
                continue
            field = validation.form_field(name[len(prefix) :])
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
