"""The home page: today's and the week's figures, what is sending, provider health, the setup checklist."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from providers.models import Provider

from . import stats
from .home import figure_windows, sending_campaigns, setup_checklist


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    windows = figure_windows()
    checklist = setup_checklist()
    context = {
        "today": stats.overall_stats(windows["today"]),
        # Figures count whole UTC hours: off UTC by half an hour, from the hour holding midnight.
        "today_since": stats.hour_of(windows["today"]),
        "week": stats.overall_stats(windows["week"]),
        "sending": sending_campaigns(),
        "providers": Provider.objects.filter(archived_at__isnull=True).order_by("nickname"),
        "checklist": checklist,
        "setup_done": all(step.done for step in checklist),
    }
    return render(request, "campaigns/home.html", context)
