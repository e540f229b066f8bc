"""The one campaign and contact validation service: the builder form, the API serializers, the admin and
the launch (`campaign_check`, so the campaign_launch command too) call it.

Errors are `{field: [message, ...]}`: a campaign column by name, a placeholder as
`placeholder_mapping.<n>` (the form's `map_value_<n>`), "" for the whole campaign.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms

from providers.models import Provider
from rcsconnect import phone
from templates_app.models import MessageTemplate
from templates_app.rendering import placeholders

from .models import Audience, Campaign, Contact, Segment

Errors = dict[str, list[str]]


def missing_value_message(n: int, source: str | None) -> str:
    """The error for a placeholder left empty (the builder's script shows the same text on blur)."""
    what = "an attribute name" if source == "attribute" else "the text"
    return f"Give {what} for {{{{{n}}}}}."


OURS, PROVIDER = Campaign.ClickTracking.OURS, Campaign.ClickTracking.PROVIDER


def campaign_errors(
    *,
    provider: Provider | None,
    template: MessageTemplate | None,
    placeholder_mapping: Sequence[Mapping[str, Any]] | None,
    sms_fallback_text: str = "",
    dlt_template_id: str = "",
    click_tracking: str = Campaign.ClickTracking.OFF,
    audience: Audience | None = None,
    segment: Segment | None = None,
) -> Errors:
    """Every rule across a campaign's fields (placeholder_mapping None: not given, not checked)."""
    from .segments import audience_problem

    errors: Errors = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if audience is not None and (problem := audience_problem(segment, audience.pk)):
        add("segment", problem)

    if provider is not None and not provider.is_active:
        add("provider", f"{provider} is disabled or archived.")
    if provider is not None and template is not None and template.provider_id != provider.pk:
        add("template", f"This template belongs to {template.provider}; pick one of {provider}.")
    if template is not None and placeholder_mapping is not None:
        needed = placeholders(template.content or {})
        if len(placeholder_mapping) > max(needed, default=0):
            add("placeholder_mapping", f"The template has {max(needed, default=0)} placeholders.")
        for n in needed:
            entry = placeholder_mapping[n - 1] if n - 1 < len(placeholder_mapping) else None
            if not entry or not str(entry.get("value", "")).strip():
                source = (entry or {}).get("source", "attribute")
                add(f"placeholder_mapping.{n}", missing_value_message(n, source))
    sms_text = (sms_fallback_text or "").strip()
    if provider is not None and sms_text:
        if not provider.sms_fallback:
            add("sms_fallback_text", f"{provider} has SMS fallback turned off.")
        elif provider.india and not dlt_template_id:
            add("dlt_template_id", "India requires the DLT template ID of this SMS text.")
        elif provider.india and provider.dlt_template_ids:
            allowed = {str(x.get("id", x) if isinstance(x, dict) else x) for x in provider.dlt_template_ids}
            if dlt_template_id not in allowed:
                add("dlt_template_id", f"Not one of {provider}'s DLT template IDs.")
    if dlt_template_id and not str(dlt_template_id).isdigit():
        add("dlt_template_id", "The DLT template ID is digits only.")
    if provider is not None:
        own = provider.kind_class.tracks_clicks(provider.config or {})
        if click_tracking == OURS and own:
            add(
                "click_tracking",
                f"{provider} has its own click tracking on; choose the provider's or turn it off there "
                "(never both).",
            )
        if click_tracking == PROVIDER and not own:
            add("click_tracking", f"{provider} has no click tracking of its own turned on.")
    return errors


def send_rule_errors(
    *,
    window_start=None,
    window_end=None,
    window_timezone: str = "",
    frequency_period_hours: int | None = None,
    send_until=None,
    ttl_hours: int | None = None,
    launching: bool = False,
) -> Errors:
    """The send rules' fields (campaigns.sendrules): a whole window, a known zone, a period of an hour
    or more, a "do not send after" time still ahead (`launching`: checked against the launch)."""
    from django.utils import timezone

    from rcsconnect import timezones

    errors: Errors = {}
    if (window_start is None) != (window_end is None):
        missing = "window_end" if window_end is None else "window_start"
        errors[missing] = ["Give both the start and the end of the send window (or neither)."]
    elif window_start is not None and window_start == window_end:
        errors["window_end"] = ["The window ends when it starts; give a different end."]
    if window_timezone and not timezones.is_valid(window_timezone):
        errors["window_timezone"] = [f"Unknown timezone {window_timezone!r}."]
    if frequency_period_hours is not None and frequency_period_hours < 1:
        errors["frequency_period_hours"] = ["The period is at least 1 hour."]
    if ttl_hours is not None and ttl_hours < 1:
        errors["ttl_hours"] = ["The time to live is at least 1 hour."]
    if send_until is not None and send_until <= timezone.now():
        field = "send_until" if launching else "send_until_local"
        errors[field] = ["This time has passed: messages would all expire."]
    return errors


def stored_campaign_errors(campaign: Campaign) -> Errors:
    """The rules for a campaign as stored (the launch check)."""
    errors = send_rule_errors(
        window_start=campaign.window_start,
        window_end=campaign.window_end,
        window_timezone=campaign.window_timezone,
        frequency_period_hours=campaign.frequency_period_hours,
        send_until=campaign.send_until if campaign.status == Campaign.Status.DRAFT else None,
        ttl_hours=campaign.ttl_hours,
        launching=True,
    )
    for name, messages in _stored_campaign_errors(campaign).items():
        errors.setdefault(name, []).extend(messages)
    return errors


def _stored_campaign_errors(campaign: Campaign) -> Errors:
    return campaign_errors(
        provider=campaign.provider,
        template=campaign.template,
        placeholder_mapping=campaign.placeholder_mapping or [],
        sms_fallback_text=campaign.sms_fallback_text,
        dlt_template_id=campaign.dlt_template_id,
        click_tracking=campaign.click_tracking,
        audience=campaign.audience,
        segment=campaign.segment,
    )


def contact_errors(
    *,
    audience: Audience | None,
    phone_number: str,
    instance: Contact | None = None,
    region: str | None = None,
) -> tuple[str, Errors]:
    """(the number in E.164, errors) for a contact: a valid number, once per audience."""
    try:
        e164 = phone.to_e164(phone_number, region)
    except forms.ValidationError as exc:
        return "", {"phone": list(exc.messages)}
    if audience is not None:
        clash = Contact.objects.filter(audience=audience, phone=e164)
        if instance is not None and instance.pk:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            return e164, {"phone": [f"{e164} is already in this audience."]}
    return e164, {}


def form_field(name: str) -> str | None:
    """The builder form's input for a validation field name."""
    if name.startswith("placeholder_mapping."):
        return f"map_value_{name.split('.', 1)[1]}"
    return name or None
