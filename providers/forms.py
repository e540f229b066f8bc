"""Provider create/edit form: common columns, the kind's declared fields, key-value rows, secrets.

The kind's settings come from one place, `ProviderKind.declared_fields()` (in the kind's form order), made
into form fields by `kind_form_fields`; the dashboard form and the admin form (`provider_admin_form`, a
subclass of this form) both use it, and both check everything through `providers.validation`.
Secrets are write-only: their inputs never render a value, and a blank input keeps the stored one.
Vendor URLs must be HTTPS (plain HTTP only to hosts the operator allowed, e.g. the local simulator)
and must resolve to addresses the outbound guard lets through.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from django import forms

from rcsconnect.form_errors import add_errors
from rcsconnect.phone import PhoneField

from . import validation
from .kinds.base import DeclaredField, ProviderKind
from .models import MAX_RATE_CEILING, Provider

SMS_PARAMS = "sms_params"
STORED_HELP = "Stored. Leave blank to keep it."


class KeyValueForm(forms.Form):
    name = forms.CharField(required=False, max_length=200)
    value = forms.CharField(required=False, max_length=2000)
    # Headers only (providers.headers): a secret value is write-only, blank keeps the stored one.
    secret = forms.BooleanField(required=False, label="Secret")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.cleaned_data.get("DELETE") and data.get("value") and not data.get("name", "").strip():
            self.add_error("name", "Enter a name, or remove the row.")
        return data


KeyValueFormSet = forms.formset_factory(KeyValueForm, extra=0, can_delete=True)


def _rows(formset: forms.BaseFormSet) -> list[dict[str, str]]:
    rows = []
    for form in formset.forms:
        data = form.cleaned_data
        if data and not data.get("DELETE") and data.get("name", "").strip():
            rows.append({"name": data["name"].strip(), "value": data.get("value", "")})
            if data.get("secret"):
                rows[-1]["secret"] = True
    return rows


def _secret_input() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


def kind_form_fields(
    kind: type[ProviderKind], stored_secrets: Mapping[str, Any] | None = None
) -> dict[str, forms.Field]:
    """The kind's config fields (`cfg_<key>`) and secrets (`secret_<key>`: write-only, blank keeps the
    stored one) as form fields, in the kind's declared order. Key-value lists are rows (formsets)."""
    fields: dict[str, forms.Field] = {}
    for declared in kind.declared_fields():
        if declared.store == "config":
            fields[f"cfg_{declared.key}"] = copy.deepcopy(declared.field)
        elif declared.store == "secrets":
            secret = copy.deepcopy(declared.field)
            secret.required = False
            secret.widget = _secret_input()
            if (stored_secrets or {}).get(declared.key):
                secret.help_text = STORED_HELP
            fields[f"secret_{declared.key}"] = secret
    return fields


def form_name(declared: DeclaredField) -> str:
    """The form input of a declared setting (a key-value list: its formset prefix)."""
    return {"config": "cfg_", "secrets": "secret_"}.get(declared.store, "") + declared.key


class ProviderForm(forms.ModelForm):
    concurrency = forms.IntegerField(
        label="Custom concurrency",
        required=False,
        min_value=1,
        max_value=MAX_RATE_CEILING,
        help_text="Maximum requests in flight; blank uses the platform default.",
    )
    max_rate = forms.IntegerField(
        label="Max rate (requests per second)",
        required=False,
        min_value=1,
        max_value=MAX_RATE_CEILING,
        help_text=f"1 to {MAX_RATE_CEILING:,}; blank uses the platform default.",
    )
    dlt_template_ids = forms.CharField(
        label="DLT template IDs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Digits only; one per line or separated by commas.",
    )
    make_default = forms.BooleanField(label="Mark as default", required=False)
    callback_hmac_secret = forms.CharField(
        label="New callback HMAC secret",
        required=False,
        max_length=200,
        widget=_secret_input(),
        help_text="The vendor signs each body with HMAC-SHA256 (header X-RCS-Signature: sha256=<hex>). "
        "The previous secret stays valid until you keep only the newest.",
    )
    callback_basic_username = forms.CharField(label="New callback Basic user", required=False, max_length=100)
    callback_basic_password = forms.CharField(
        label="New callback Basic password",
        required=False,
        max_length=200,
        widget=_secret_input(),
    )
    callback_keep_newest_only = forms.BooleanField(
        label="Keep only the newest callback secret and credentials (end the rotation)", required=False
    )
    callback_checks_off = forms.BooleanField(
        label="Turn off the HMAC and Basic callback checks", required=False
    )

    class Meta:
        model = Provider
        fields = [
            "nickname",
            "sender_id",
            "concurrency",
            "max_rate",
            "sms_fallback",
            "sms_sender_id",
            "india",
            "principal_entity_id",
            "enabled",
            "callback_require_timestamp",
        ]

    def __init__(self, *args: Any, kind: type[ProviderKind], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.kind = kind
        instance: Provider = self.instance
        config, stored = instance.config or {}, instance.secrets or {}
        if "sender_id" in self.fields:  # (not in the admin's read-only view)
            self.fields["sender_id"].label = kind.sender_id_label
        instance.kind = kind.slug
        # (as initial data, not the field's initial: a model form's initial would be the stored list)
        self.initial["dlt_template_ids"] = "\n".join(instance.dlt_template_ids or [])
        self.initial["make_default"] = instance.is_default
        self.fields.update(kind_form_fields(kind, stored))
        for key in kind.config_fields:
            if key in config:
                self.initial[f"cfg_{key}"] = config[key]
        data = args[0] if args else kwargs.get("data")
        labels = {**kind.key_value_fields, SMS_PARAMS: "SMS body parameters"}
        self.formsets: dict[str, tuple[str, forms.BaseFormSet]] = {}
        for key, label in labels.items():
            initial = instance.sms_params if key == SMS_PARAMS else config.get(key, [])
            formset = KeyValueFormSet(data, prefix=key, initial=initial or [])
            self.formsets[key] = (label, formset)
        self.stored_secrets = {key for key in kind.secret_fields if stored.get(key)}
        self.callback_secret_count = len(instance.callback_hmac_secrets or [])
        self.callback_basic_count = len(instance.callback_basic_credentials or [])

    # -- grouped fields for the template --------------------------------------------------------
    def kind_items(self) -> list[dict[str, Any]]:
        """The kind's settings in its declared order: {"field": bound field} or {"prefix", "label",
        "formset"} for a key-value list, each with "shown_when" = (input id, "value value") or None."""
        items = []
        for declared in self.kind.declared_fields():
            when = None
            if declared.shown_when:
                other, values = declared.shown_when
                when = (f"id_cfg_{other}", " ".join(values))
            if declared.store == "key_value":
                if declared.key in self.formsets:
                    label, formset = self.formsets[declared.key]
                    items.append(
                        {"prefix": declared.key, "label": label, "formset": formset, "shown_when": when}
                    )
            else:
                items.append({"field": self[form_name(declared)], "shown_when": when})
        return items

    def key_value_formsets(self) -> list[tuple[str, str, forms.BaseFormSet]]:
        return [(key, label, fs) for key, (label, fs) in self.formsets.items() if key != SMS_PARAMS]

    def sms_formset(self) -> forms.BaseFormSet:
        return self.formsets[SMS_PARAMS][1]

    def is_valid(self) -> bool:
        formsets_ok = all(fs.is_valid() for _, fs in self.formsets.values())
        return super().is_valid() and formsets_ok

    # -- validation -----------------------------------------------------------------------------
    def clean_dlt_template_ids(self) -> list[str]:
        ids, problem = validation.dlt_ids(self.cleaned_data.get("dlt_template_ids", ""))
        if problem:
            raise forms.ValidationError(problem)
        return ids

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        skip = {name for name, form_name in self._names() if form_name in self.errors}
        errors = validation.provider_errors(
            kind=self.kind,
            config=self.config_values(),
            secrets=self.secret_values(),
            values={**data, "nickname": data.get("nickname", "")},
            instance=self.instance,
            skip=skip,
        )
        add_errors(self, errors, field_for=validation.form_field)
        return data

    def _names(self):
        names = [*self.fields, *(f"config.{k}" for k in self.kind.config_fields)]
        names += [f"secrets.{k}" for k in self.kind.secret_fields]
        return [(name, validation.form_field(name)) for name in names]

    def config_values(self) -> dict[str, Any]:
        config = dict(self.instance.config or {})
        for key in self.kind.config_fields:
            value = self.cleaned_data.get(f"cfg_{key}")
            config[key] = "" if value is None else value
        for key, (_label, formset) in self.formsets.items():
            if key != SMS_PARAMS and formset.is_bound and formset.is_valid():
                config[key] = _rows(formset)
        return config

    def secret_values(self) -> dict[str, str]:
        secrets = dict(self.instance.secrets or {})
        for key in self.kind.secret_fields:
            if value := self.cleaned_data.get(f"secret_{key}"):
                secrets[key] = value
        return secrets

    # -- result ---------------------------------------------------------------------------------
    def build(self) -> Provider:
        """The provider with every submitted value applied (unsaved; see services.provider_save)."""
        provider: Provider = super().save(commit=False)
        provider.kind = self.kind.slug
        provider.config = self.config_values()
        provider.secrets = self.secret_values()
        provider.config, provider.secrets = validation.store_headers(
            self.kind, provider.config, provider.secrets
        )
        provider.dlt_template_ids = self.cleaned_data["dlt_template_ids"]
        if SMS_PARAMS in self.formsets:
            provider.sms_params = _rows(self.sms_formset())
        data = self.cleaned_data
        validation.apply_callback_credentials(provider, data)
        # Unticking "Mark as default" removes the mark; ticking it is done by provider_mark_default.
        provider.is_default = provider.is_default and bool(data.get("make_default")) and provider.enabled
        return provider


class ProviderAdminForm(ProviderForm):
    """The dashboard's provider form in the admin, bound to one kind (see provider_admin_form): the same
    fields, the same write-only secrets and the same checks (providers.validation). Key-value lists and
    the SMS body parameters are rows on the dashboard and the API; the admin keeps them as stored."""

    kind_class: ClassVar[type[ProviderKind]]

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("kind", self.kind_class)
        super().__init__(*args, **kwargs)
        self.formsets = {}


def provider_admin_form(kind: type[ProviderKind]) -> type[ProviderAdminForm]:
    """The admin form class for one kind: its settings declared on the class, so the admin lays them out."""
    attrs = {**kind_form_fields(kind), "kind_class": kind, "__module__": __name__}
    return type(f"{kind.__name__}AdminForm", (ProviderAdminForm,), attrs)


class SendTestForm(forms.Form):
    number = PhoneField(label="Phone number")
    rcs_text = forms.CharField(label="RCS message", widget=forms.Textarea(attrs={"rows": 3}), max_length=3072)
    sms_text = forms.CharField(
        label="SMS fallback message",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
    )
    template_name = forms.CharField(label="Template ID", required=False, max_length=100)
    principal_entity_id = forms.CharField(label="Principal Entity ID (India)", required=False, max_length=40)

    def clean_principal_entity_id(self) -> str:
        value = self.cleaned_data.get("principal_entity_id", "").strip()
        if value and not validation.DIGITS.match(value):
            raise forms.ValidationError(validation.PE_ID_DIGITS)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("number"):
            data["to"] = data["number"]
        return data
