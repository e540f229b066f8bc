"""Inbox pages: conversations (searchable) and one thread with a reply box."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from providers.models import Provider

from . import inbox

PAGE = 50


@permission_required("campaigns.view_inboxmessage", raise_exception=True)
def inbox_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100].replace("\x00", "")
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    awaiting = request.GET.get("awaiting") == "1"  # only conversations whose latest entry was received
    found = inbox.conversations(
        query=query, unread=True if awaiting else None, limit=PAGE + 1, offset=(page - 1) * PAGE
    )
    context = {"conversations": found[:PAGE], "q": query, "page": page, "has_next": len(found) > PAGE}
    context["awaiting"], context["awaiting_count"] = awaiting, inbox.conversation_count(unread=True)
    return render(request, "campaigns/inbox.html", context)


def _thread_context(provider: Provider, phone: str, **extra) -> dict:
    entries = inbox.thread(provider=provider, phone=phone)
    if not entries:
        raise Http404("No conversation with this number.")
    return {
        "provider": provider,
        "phone": phone,
        "entries": entries,
        "contact_name": inbox.contact_name(entries),
        "unsubscribed": inbox.is_unsubscribed(phone),
        "reply_max": inbox.REPLY_MAX,
        **extra,
    }


@permission_required("campaigns.view_inboxmessage", raise_exception=True)
def inbox_thread(request: HttpRequest, provider_id: int, phone: str) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=provider_id)
    context = _thread_context(provider, phone)
    if request.htmx and request.GET.get("part") == "entries":
        return render(request, "campaigns/_thread.html", context)
    return render(request, "campaigns/inbox_thread.html", context)


@permission_required("campaigns.add_inboxmessage", raise_exception=True)
def inbox_reply(request: HttpRequest, provider_id: int, phone: str) -> HttpResponse:
    provider = get_object_or_404(Provider, pk=provider_id)
    if request.method != "POST":
        return redirect("campaigns:inbox_thread", provider_id=provider.pk, phone=phone)
    text = request.POST.get("text", "").replace("\x00", "")
    try:
        inbox.inbox_reply(provider=provider, phone=phone, text=text, user=request.user)
    except inbox.InboxError as exc:
        context = _thread_context(provider, phone, reply_error=str(exc), reply_text=text)
        return render(request, "campaigns/inbox_thread.html", context, status=400)
    messages.success(request, "Answer queued; its delivery status shows in the thread.")
    return redirect(reverse("campaigns:inbox_thread", args=[provider.pk, phone]) + "#latest")
