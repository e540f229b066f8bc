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


MAX_TEST_PERCENT = 90
MAX_WINNER_AFTER_MINUTES = 7 * 24 * 60


def experiment_errors(
    *,
    provider: Provider | None,
    holdout_percent: int = 0,
    test_percent: int = 0,
    winner_after_minutes: int = 240,
    variants: Sequence[Mapping[str, Any]] = (),
    require_variants: bool = True,
) -> Errors:
    """An experiment's rules (campaigns.experiments): 2-4 variants labelled A, B, ... in order, each
    a template of the campaign's provider with every placeholder mapped and a split of 1-99 %, the
    splits adding up to 100; a holdout of 0-50 %; "test, then send the winner" (a test share of
    1-90 %) needs variants (`require_variants`: unless they are still to come).
    `variants`: {"label", "template", "placeholder_mapping", "split"} each.
    Keys: the campaign's field names, "variants", and "variants.<label>.<field>[.<n>]"."""
    from .experiments import MAX_HOLDOUT_PERCENT, MAX_VARIANTS, MIN_VARIANTS
    from .models.variant import LABELS

    errors: Errors = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not 0 <= (holdout_percent or 0) <= MAX_HOLDOUT_PERCENT:
        add("holdout_percent", f"The holdout is 0 to {MAX_HOLDOUT_PERCENT} % of the contacts.")
    if not 0 <= (test_percent or 0) <= MAX_TEST_PERCENT:
        add("test_percent", f"The test goes to 1 to {MAX_TEST_PERCENT} % of the contacts (0: no test).")
    elif test_percent and require_variants and len(variants) < MIN_VARIANTS:
        add("test_percent", "Sending the winner needs at least two variants to test.")
    if test_percent and not 1 <= (winner_after_minutes or 0) <= MAX_WINNER_AFTER_MINUTES:
        add("winner_after_minutes", f"Pick the winner after 1 to {MAX_WINNER_AFTER_MINUTES} minutes.")
    if not variants:
        return errors
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        add(
            "variants",
            f"An A/B test has {MIN_VARIANTS} to {MAX_VARIANTS} variants; this one has {len(variants)}.",
        )
    labels = [str(v.get("label", "")) for v in variants]
    if labels != list(LABELS[: len(labels)]):
        add("variants", f"Variants are labelled {', '.join(LABELS[: len(labels)])}, in order.")
    for variant in variants:
        label = variant.get("label", "")
        split = variant.get("split")
        if not isinstance(split, int) or not 1 <= split <= 99:
            add(f"variants.{label}.split", "A variant's share is 1 to 99 %.")
        template = variant.get("template")
        if template is None:
            add(f"variants.{label}.template", "Pick the variant's template.")
            continue
        if provider is not None and template.provider_id != provider.pk:
            add(
                f"variants.{label}.template",
                f"This template belongs to {template.provider}; pick one of {provider}.",
            )
        for name, messages in mapping_errors(template, variant.get("placeholder_mapping") or []).items():
            errors.setdefault(f"variants.{label}.{name}", []).extend(messages)
    splits = [v.get("split") for v in variants]
    if all(isinstance(x, int) for x in splits) and sum(splits) != 100:
        add("variants", f"The variants' shares add up to {sum(splits)} %; they must add up to 100 %.")
    return errors


def mapping_errors(template: MessageTemplate, placeholder_mapping: Sequence[Mapping[str, Any]]) -> Errors:
    """A placeholder mapping's rules for `template` (as `campaign_errors` applies them)."""
    errors: Errors = {}
    needed = placeholders(template.content or {})
    if len(placeholder_mapping) > max(needed, default=0):
        errors.setdefault("placeholder_mapping", []).append(
            f"The template has {max(needed, default=0)} placeholders."
        )
    for n in needed:
        entry = placeholder_mapping[n - 1] if n - 1 < len(placeholder_mapping) else None
        if not entry or not str(entry.get("value", "")).strip():
            source = (entry or {}).get("source", "attribute")
            errors.setdefault(f"placeholder_mapping.{n}", []).append(missing_value_message(n, source))
    return errors


def stored_variants(campaign: Campaign) -> list[dict[str, Any]]:
    return [
        {
            "label": v.label,
            "template": v.template,
            "placeholder_mapping": v.placeholder_mapping,
            "split": v.split,
        }
        for v in campaign.variants.select_related("template__provider").order_by("label")
    ]


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
    if campaign.pk:
        experiment = experiment_errors(
            provider=campaign.provider,
            holdout_percent=campaign.holdout_percent,
            test_percent=campaign.test_percent,
            winner_after_minutes=campaign.winner_after_minutes,
            variants=stored_variants(campaign),
        )
        for name, messages in experiment.items():
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
