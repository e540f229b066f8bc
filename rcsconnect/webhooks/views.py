"""Webhook pages: list, create (secret shown once), detail with its delivery log, edit, delete,
send a test event, rotate the secret, one delivery's attempts. Who may: rcsconnect.roles.ROUTES."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from . import delivery, services
from .forms import WebhookForm
from .models import Webhook, WebhookDelivery

LOG_PAGE = 50


def webhook_list(request: HttpRequest) -> HttpResponse:
    return render(request, "webhooks/webhook_list.html", {"webhooks": Webhook.objects.all()})


def webhook_create(request: HttpRequest) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        webhook = services.webhook_create(
            name=data["name"],
            url=data["url"],
            events=data["events"],
            is_active=data["is_active"],
            user=request.user,
        )
        # The secret is in this response only: no redirect that would need to keep it somewhere.
        return render(
            request,
            "webhooks/webhook_secret.html",
            {"webhook": webhook, "secret": webhook.secret, "new": True},
        )
    return render(request, "webhooks/webhook_form.html", {"form": form})


def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    log = webhook.deliveries.order_by("-created_at", "-id")
    page = Paginator(log, LOG_PAGE).get_page(request.GET.get("page"))
    return render(request, "webhooks/webhook_detail.html", {"webhook": webhook, "page": page})


def webhook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    initial = {
        "name": webhook.name,
        "url": webhook.url,
        "events": webhook.events,
        "is_active": webhook.is_active,
    }
    form = WebhookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.webhook_update(webhook=webhook, **form.cleaned_data)
        messages.success(request, f"Saved {webhook.name}.")
        return redirect(webhook)
    return render(request, "webhooks/webhook_form.html", {"form": form, "webhook": webhook})


def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    if request.method == "POST":
        webhook.delete()
        messages.success(request, f"Deleted {webhook.name}; no more events go to it.")
        return redirect("webhooks:list")
    return render(request, "webhooks/webhook_delete.html", {"webhook": webhook})


def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    if request.method == "POST":
        with transaction.atomic():
            delivery.webhook_send_test(webhook_id=webhook.pk, user_name=request.user.get_username())
        messages.success(request, "Test event queued; its attempt shows in the log below.")
    return redirect(webhook)


def webhook_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    webhook = get_object_or_404(Webhook, pk=pk)
    if request.method != "POST":
        return redirect(webhook)
    secret = services.webhook_rotate_secret(webhook_id=webhook.pk)
    return render(
        request, "webhooks/webhook_secret.html", {"webhook": webhook, "secret": secret, "new": False}
    )


def delivery_detail(request: HttpRequest, pk: int, delivery_id: int) -> HttpResponse:
    sent = get_object_or_404(WebhookDelivery.objects.select_related("webhook"), pk=delivery_id, webhook_id=pk)
    context = {
        "webhook": sent.webhook,
        "delivery": sent,
        "attempts": sent.attempt_log.all(),
        "body": delivery.body_of(sent).decode(),
    }
    return render(request, "webhooks/delivery_detail.html", context)
