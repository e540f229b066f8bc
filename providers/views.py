"""Provider pages: thin views over providers.forms and providers.services."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from rcsconnect.views import redirect_next

from . import services
from .forms import ProviderForm, SendTestForm
from .kinds import registry
from .models import Provider, SendTest

SEND_TEST_POLL_SECONDS = 120


def provider_list(request: HttpRequest) -> HttpResponse:
    providers = services.providers_with_counts(Provider.objects.all()).order_by("archived_at", "nickname")
    return render(request, "providers/provider_list.html", {"providers": providers, "kinds": registry.all()})


def provider_detail(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    context = {
        "provider": provider,
        "object": provider,
        "kind": _kind(provider.kind),
        "health": services.provider_health(provider=provider),
        "funnel": services.provider_figures(provider=provider),
        "send_tests": provider.send_tests.all()[:10],
        "running_campaigns": services.provider_running_campaigns(provider=provider),
    }
    return render(request, "providers/provider_detail.html", context)


def provider_create(request: HttpRequest, kind: str | None = None) -> HttpResponse:
    if kind is None:
        return render(request, "providers/provider_choose_kind.html", {"kinds": registry.all()})
    return _edit(request, Provider(kind=kind), _kind(kind))


def provider_edit(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    return _edit(request, provider, _kind(provider.kind))


def _edit(request: HttpRequest, provider: Provider, kind) -> HttpResponse:
    form = ProviderForm(request.POST or None, instance=provider, kind=kind)
    if request.method == "POST" and form.is_valid():
        saved = services.provider_save(provider=form.build(), make_default=form.cleaned_data["make_default"])
        messages.success(request, f"Saved {saved.nickname}.")
        return redirect(saved)
    return render(request, "providers/provider_form.html", {"form": form, "kind": kind, "provider": provider})


@require_POST
def provider_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    try:
        if action == "default":
            services.provider_mark_default(provider_id=pk)
            messages.success(request, f"{provider.nickname} is now the default provider.")
        elif action in ("enable", "disable"):
            services.provider_set_enabled(provider_id=pk, enabled=action == "enable")
            messages.success(request, f"{provider.nickname} is {action}d.")
        elif action == "duplicate":
            copy = services.provider_duplicate(provider_id=pk)
            messages.success(request, f"Created {copy.nickname}: review it before use.")
            return redirect("providers:edit", copy.pk)
        else:
            raise Http404("Unknown action.")
    except services.ProviderError as exc:
        messages.error(request, str(exc))
    return redirect_next(request, "providers:list")


def provider_archive(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    if request.method == "POST":
        stopped = services.provider_archive(provider_id=pk)
        note = f" Paused campaigns: {', '.join(stopped)}." if stopped else ""
        messages.success(request, f"Archived {provider.nickname}.{note}")
        return redirect("providers:list")
    campaigns = services.provider_running_campaigns(provider=provider)
    return render(request, "providers/provider_archive.html", {"provider": provider, "campaigns": campaigns})


def provider_delete(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    if request.method == "POST":
        try:
            services.provider_delete(provider_id=pk)
        except services.ProviderError as exc:
            messages.error(request, str(exc))
            return redirect("providers:delete", pk)
        messages.success(request, f"Deleted {provider.nickname}.")
        return redirect("providers:list")
    context = {
        "provider": provider,
        "campaigns": services.provider_campaigns(provider=provider),
        "has_messages": provider.messages.exists(),
    }
    return render(request, "providers/provider_delete.html", context)


def send_test(request: HttpRequest, pk: int) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=pk)
    initial = {"principal_entity_id": provider.principal_entity_id}
    form = SendTestForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        test = services.provider_send_test(
            provider_id=pk,
            to=data["to"],
            rcs_text=data["rcs_text"],
            sms_text=data["sms_text"],
            template_name=data["template_name"],
            principal_entity_id=data["principal_entity_id"],
            user=request.user,
        )
        return redirect("providers:send_test_result", pk, test.pk)
    return render(request, "providers/send_test.html", {"provider": provider, "form": form})


def send_test_result(request: HttpRequest, pk: int, test_id: int) -> HttpResponse:
    test = get_object_or_404(SendTest.objects.select_related("provider"), pk=test_id, provider_id=pk)
    events = list(test.events())
    age = (timezone.now() - test.created_at).total_seconds()
    context = {
        "provider": test.provider,
        "test": test,
        "events": events,
        "request_json": json.dumps(test.request.get("json"), indent=2, ensure_ascii=False),
        # Keep polling while the send is queued and for a while after, as callbacks arrive.
        "polling": test.state == SendTest.State.QUEUED or age < SEND_TEST_POLL_SECONDS,
    }
    if request.htmx:
        return render(request, "providers/_send_test_result.html", context)
    return render(request, "providers/send_test_result.html", context)


def _kind(slug: str):
    try:
        return registry.get(slug)
    except LookupError:
        raise Http404(f"Unknown provider kind {slug!r}.") from None
