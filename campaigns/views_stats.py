"""Stats pages: an overview, one campaign, one provider. Every figure comes from counters and hourly
buckets (campaigns.stats), never from a scan of the messages, so pages stay fast at millions; an A/B
campaign's per-variant results are one aggregate over that campaign's messages (stats.variant_results)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from providers.models import Provider

from . import stats
from .charts import Line, line_chart
from .models import Campaign

LINES = (
    Line("sent", "Sent", "l-sent"),
    Line("delivered", "Delivered", "l-delivered"),
    Line("failed", "Errors", "l-failed"),
    Line("clicked", "Clicks", "l-clicked"),
)
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
RECENT_CAMPAIGNS = 50


@permission_required("campaigns.view_campaign", raise_exception=True)
def stats_overview(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - WINDOWS["7d"]
    providers = [(p, stats.provider_stats(p, since=since)) for p in Provider.objects.all()]
    campaigns = Campaign.objects.select_related("provider").order_by("-created_at")[:RECENT_CAMPAIGNS]
    return render(
        request,
        "campaigns/stats.html",
        {
            "providers": providers,
            "campaigns": [(c, stats.campaign_funnel_counters(c)) for c in campaigns],
            "chart": line_chart(
                stats.series(since=since, until=timezone.now()), LINES, title="All providers"
            ),
        },
    )


@permission_required("campaigns.view_campaign", raise_exception=True)
def stats_campaign(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("provider", "template"), pk=pk)
    chart = line_chart(stats.series(campaign=campaign), LINES, title=f"{campaign.name} over time")
    return render(
        request,
        "campaigns/stats_campaign.html",
        {
            "campaign": campaign,
            "funnel": stats.campaign_funnel(campaign),
            "chart": chart,
            "experiment": stats.variant_results(campaign),  # None without variants or holdout
        },
    )


@permission_required("providers.view_provider", raise_exception=True)
def stats_provider(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    window = request.GET.get("window", "7d")
    if window not in WINDOWS:
        window = "7d"
    now = timezone.now()
    since = now - WINDOWS[window]
    return render(
        request,
        "campaigns/stats_provider.html",
        {
            "provider": provider,
            "funnel": stats.provider_stats(provider, since=since),
            "chart": line_chart(
                stats.series(provider=provider, since=since, until=now), LINES, title=str(provider)
            ),
            "window": window,
            "windows": list(WINDOWS),
        },
    )
