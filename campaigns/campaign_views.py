"""Campaign pages: list, builder, detail with live progress, lifecycle actions."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rcsconnect import timezones

from . import builder, sendrules
from .engine.limiter import provider_pause
from .forms import CampaignForm, VariantForm
from .models import Campaign
from .services import (
    CampaignError,
    campaign_cancel,
    campaign_check,
    campaign_estimate,
    campaign_launch,
    campaign_pause,
    campaign_resume,
)
from .sms import sms_segments
from .stats import campaign_funnel_counters, fan_out_progress

ACTIONS = {
    "launch": partial(campaign_launch, background=True),  # the fan-out runs in a task
    "pause": campaign_pause,
    "resume": campaign_resume,
    "cancel": campaign_cancel,
}
DONE_WORDS = {"launch": "launched", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}


@require_safe
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns = Campaign.objects.select_related("provider", "template", "audience")
    rows = [(campaign, campaign_funnel_counters(campaign)) for campaign in campaigns]
    return render(request, "campaigns/campaign_list.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk) if pk else Campaign(created_by=request.user)
    if pk and not campaign.is_editable:
        messages.error(request, "The content is locked once sending starts.")
        return redirect(campaign)
    initial = {
        k: request.GET[k]
        for k in ("audience", "segment", "template", "provider")
        if request.GET.get(k, "").isdigit()
    }
    form = CampaignForm(
        request.POST if request.method == "POST" else None,
        instance=campaign,
        initial=initial,
        user_timezone=timezones.for_request(request),
    )
    if request.method == "POST" and form.is_valid():
        campaign = form.save()
        messages.success(request, f"Campaign {campaign} saved. Check the estimate, then launch it.")
        return redirect(campaign)
    context = {
        "form": form,
        "campaign": campaign,
        "attributes": _audience_attributes(form),
        "live": builder.live(form),
    }
    return render(request, "campaigns/campaign_form.html", context)


@require_http_methods(["GET", "POST"])
def campaign_variants(request: HttpRequest, pk: int) -> HttpResponse:
    """A draft's A/B variants (2-4: template, share and placeholder mapping each); the holdout and
    "test, then send the winner" are the builder's fields. Saved only when every rule holds
    (campaigns.validation.experiment_errors), with each error beside its field."""
    from . import experiments, validation
    from .models.variant import LABELS

    campaign = get_object_or_404(Campaign.objects.select_related("provider", "template"), pk=pk)
    if not campaign.is_editable:
        messages.error(request, "The content is locked once sending starts.")
        return redirect(campaign)
    stored = {v.label: v for v in campaign.variants.all()}
    data = request.POST if request.method == "POST" else None
    forms = [VariantForm(data, campaign=campaign, label=label, variant=stored.get(label)) for label in LABELS]
    page_errors: list[str] = []
    # "Show placeholders": the same page with each chosen template's placeholder fields, nothing saved.
    refresh = "refresh" in request.POST
    if request.method == "POST" and not refresh and all(form.is_valid() for form in forms):
        used = [form.entry() for form in forms if form.cleaned_data.get("use")]
        errors = validation.experiment_errors(
            provider=campaign.provider,
            holdout_percent=campaign.holdout_percent,
            test_percent=campaign.test_percent,
            winner_after_minutes=campaign.winner_after_minutes,
            variants=used,
            require_variants=False,
        )
        if used and len(used) < experiments.MIN_VARIANTS:
            errors.setdefault("variants", []).append("An A/B test has at least two variants.")
        if not errors:
            experiments.variants_save(campaign=campaign, variants=used)
            word = f"{len(used)} variants" if used else "no variants"
            messages.success(request, f"Campaign {campaign} saved with {word}.")
            return redirect(campaign)
        for form in forms:
            form.add_errors(errors)
        page_errors = [m for name, ms in errors.items() if not name.startswith("variants.") for m in ms]
    context = {"campaign": campaign, "forms": forms, "page_errors": page_errors}
    return render(request, "campaigns/campaign_variants.html", context)


@require_safe
def campaign_mapping(request: HttpRequest) -> HttpResponse:
    """The placeholder rows for the template picked in the builder (htmx); no errors yet (nothing
    was submitted: the builder's script says so when a field is left empty)."""
    form = CampaignForm(request.GET)
    context = {"form": form, "attributes": _audience_attributes(form), "fresh": True}
    return render(request, "campaigns/_mapping.html", context)


@require_safe
def campaign_live(request: HttpRequest) -> HttpResponse:
    """The builder's preview for a sample contact and the estimate, from the fields as they are (htmx)."""
    return render(request, "campaigns/_live.html", {"live": builder.live(CampaignForm(request.GET))})


def _audience_attributes(form: CampaignForm) -> list[str]:
    """The chosen audience's attribute names, offered for the placeholder mapping."""
    audience = builder.chosen(form, "audience")
    return audience.attribute_names() if audience else []


@require_safe
def campaign_segments(request: HttpRequest) -> HttpResponse:
    segments = sms_segments(request.GET.get("sms_fallback_text", ""))
    return render(request, "campaigns/_segments.html", {"segments": segments})


@require_safe
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("provider", "template", "audience"), pk=pk)
    context = {
        "campaign": campaign,
        "estimate": campaign_estimate(campaign=campaign) if campaign.is_editable else None,
        "problems": campaign_check(campaign) if campaign.is_editable else [],
        "segments": sms_segments(campaign.sms_fallback_text) if campaign.sms_fallback_text else None,
        "pause": _pause(campaign),
        "fan_out": fan_out_progress(campaign),
        "window": _window(campaign),
        "rules": sendrules.describe(campaign),
        "counters": campaign_funnel_counters(campaign),  # the figures' one owner: campaigns.stats
    }
    return render(request, "campaigns/campaign_detail.html", context)


@require_safe
def campaign_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress card, polled while a campaign sends: it only reads (the counters follow callbacks
    through the events applier, `campaigns.events`)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    context = {
        "campaign": campaign,
        "pause": _pause(campaign),
        "fan_out": fan_out_progress(campaign),
        # The card shows only the recipients: no timing (the page's estimate card has it).
        "estimate": campaign_estimate(campaign=campaign, timing=False) if campaign.is_editable else None,
        "window": _window(campaign),
        "counters": campaign_funnel_counters(campaign),
    }
    return render(request, "campaigns/_progress.html", context)


def _window(campaign: Campaign):
    """The messages waiting for their send window (a count only while the campaign sends)."""
    if campaign.status in (Campaign.Status.SENDING, Campaign.Status.PAUSED):
        return sendrules.waiting_for_window(campaign)
    return None


def _pause(campaign: Campaign):
    return provider_pause(campaign.provider) if campaign.status == Campaign.Status.SENDING else None


@require_POST
def campaign_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    if action not in ACTIONS:
        messages.error(request, f"Unknown action {action!r}.")
        return redirect(campaign)
    try:
        campaign = ACTIONS[action](campaign_id=campaign.pk)
    except CampaignError as exc:
        messages.error(request, str(exc))
    else:
        word = "scheduled" if campaign.status == Campaign.Status.SCHEDULED else DONE_WORDS[action]
        messages.success(request, f"Campaign {campaign} {word}.")
    return redirect(campaign)
