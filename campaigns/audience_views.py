"""Audience pages: list and create, detail with contacts, CSV import with live progress and report."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from .forms import AudienceForm, ImportForm
from .models import Audience, AudienceImport
from .services import audience_import_start


@require_http_methods(["GET", "POST"])
def audience_list(request: HttpRequest) -> HttpResponse:
    form = AudienceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        audience = form.save()
        messages.success(request, f"Audience {audience} created. Import contacts from a CSV file.")
        return redirect(audience)
    audiences = Audience.objects.order_by("name")
    return render(request, "campaigns/audience_list.html", {"audiences": audiences, "form": form})


@require_http_methods(["GET", "POST"])
def audience_detail(request: HttpRequest, pk: int) -> HttpResponse:
    audience = get_object_or_404(Audience, pk=pk)
    form = ImportForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        with transaction.atomic():
            audience_import_start(
                audience=audience,
                file=upload,
                original_name=upload.name,
                default_region=form.cleaned_data["default_region"],
            )
        messages.success(request, f"Importing {upload.name}: progress below.")
        return redirect(audience)
    context = {
        "audience": audience,
        "form": form,
        **_contacts_context(audience, request.GET.get("page")),
        "imports": audience.imports.all()[:10],
    }
    return render(request, "campaigns/audience_detail.html", context)


@require_safe
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(AudienceImport.objects.select_related("audience"), pk=pk)
    context = {"job": job}
    if job.is_finished and request.htmx:
        # The poll that sees the import finish also refreshes the audience's counters and contacts.
        context.update(oob=True, **_contacts_context(job.audience, None))
    return render(request, "campaigns/_import_row.html", context)


def _contacts_context(audience: Audience, page: str | None) -> dict:
    contacts = Paginator(audience.contacts.order_by("id"), 50).get_page(page)
    total, subscribed = audience.contacts.count(), audience.contacts.filter(subscribed=True).count()
    return {
        "contacts": contacts,
        "total": total,
        "subscribed": subscribed,
        "unsubscribed": total - subscribed,
    }


@require_safe
def import_report(request: HttpRequest, pk: int) -> FileResponse:
    job = get_object_or_404(AudienceImport, pk=pk)
    if not job.report:
        raise Http404("This import rejected no rows.")
    return FileResponse(job.report.open("rb"), as_attachment=True, filename=f"import-{job.pk}-rejected.csv")
