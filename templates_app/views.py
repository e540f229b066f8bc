"""Template pages: list, builder (create/edit), payload preview, clone, delete, send test, export/import."""

from __future__ import annotations

import json

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from providers import content as C
from providers.models import Provider

from . import builder
from .forms import CloneForm, ImportForm, SendTestForm, TemplateForm
from .limits import CAROUSEL_MAX, CAROUSEL_MIN
from .models import MessageTemplate
from .rendering import RenderError, placeholders
from .services import campaigns_using, preview_request, template_clone, template_delete, template_save
from .services import test_send_create as send_test_create
from .transfer import templates_export, templates_import
from .validation import content_errors

BUILDER = "templates_app/builder.html"


def template_list(request: HttpRequest) -> HttpResponse:
    templates = MessageTemplate.objects.select_related("provider")
    status = request.GET.get("status")
    if status in MessageTemplate.Status.values:
        templates = templates.filter(status=status)
    return render(
        request,
        "templates_app/template_list.html",
        {"object_list": templates, "statuses": MessageTemplate.Status.choices, "status": status},
    )


def _split_errors(errors: dict) -> tuple[dict, dict]:
    samples = {k: v for k, v in errors.items() if k.startswith("samples.")}
    return {k: v for k, v in errors.items() if not k.startswith("samples.")}, samples


def _builder_context(form, fmt, content, samples, errors=None, warnings=None, template=None) -> dict:
    content_errors, sample_errors = _split_errors(errors or {})
    count = max([len(samples), *placeholders(content)]) if content else len(samples)
    return {
        "form": form,
        "object": template,
        "format": fmt,
        "formats": MessageTemplate.Format.choices,
        "bound": builder.bind_all(fmt, content, content_errors, warnings or {}),
        "blank": builder.blank_bound(),
        "root_errors": content_errors.get("", []),
        "root_warnings": (warnings or {}).get("", []),
        "samples": [
            {
                "name": f"samples.{i}",
                "number": i + 1,
                "value": samples[i] if i < len(samples) else "",
                "errors": sample_errors.get(f"samples.{i}", []),
            }
            for i in range(count)
        ],
        "choices": {
            "suggestion_types": [(C.REPLY, "Reply"), (C.OPEN_URL, "Open URL"), (C.DIAL_PHONE, "Dial")],
            "url_kinds": [("static", "Static"), ("dynamic", "Dynamic suffix {{n}}"), ("tracked", "Tracked")],
            "heights": [("SHORT", "Short"), ("MEDIUM", "Medium"), ("TALL", "Tall")],
            "media_types": [(t, t) for t in _media_types()],
            "orientations": [("VERTICAL", "Vertical"), ("HORIZONTAL", "Horizontal")],
            "alignments": [("LEFT", "Image left"), ("RIGHT", "Image right")],
            "widths": [("MEDIUM", "Medium"), ("SMALL", "Small")],
        },
        "limits": {"carousel_min": CAROUSEL_MIN, "carousel_max": CAROUSEL_MAX},
        "has_errors": bool(errors) or bool(form.errors),
    }


def _media_types():
    from .limits import MEDIA_TYPES

    return MEDIA_TYPES


def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=pk) if pk else MessageTemplate()
    if request.method != "POST":
        fmt = template.format if pk else request.GET.get("format", C.TEXT)
        fmt = fmt if fmt in C.CONTENT_TYPES else C.TEXT
        form = TemplateForm(instance=template, initial={"format": fmt})
        context = _builder_context(
            form, fmt, template.content, list(template.sample_values), template=template
        )
        return render(request, BUILDER, context)

    form = TemplateForm(request.POST, instance=template)
    fmt = request.POST.get("format") if request.POST.get("format") in C.CONTENT_TYPES else C.TEXT
    content = builder.parse_content(request.POST, fmt)
    samples = builder.parse_samples(request.POST)
    samples = samples[: len(placeholders(content))]
    errors, warnings = content_errors(content, samples)
    if form.is_valid() and not errors:
        with transaction.atomic():
            obj = form.save(commit=False)
            notes = template_save(template=obj, content=content, sample_values=samples)
        for note in notes:
            messages.warning(request, note)
        messages.success(request, f"Template {obj.name} saved.")
        return redirect(obj.get_absolute_url())
    context = _builder_context(
        form, fmt, content, samples, errors, warnings, template=template if pk else None
    )
    context["errors"] = errors  # by content path (templates_app.validation), also shown per field
    return render(request, BUILDER, context, status=400)


@require_POST
def payload_preview(request: HttpRequest) -> JsonResponse:
    """The builder's payload tab: what the chosen provider would receive for the sample values."""
    fmt = request.POST.get("format") if request.POST.get("format") in C.CONTENT_TYPES else C.TEXT
    content = builder.parse_content(request.POST, fmt)
    samples = builder.parse_samples(request.POST)
    errors, warnings = content_errors(content, samples)
    answer: dict = {"content": content, "errors": errors, "warnings": warnings}
    provider = Provider.objects.filter(pk=request.POST.get("provider") or 0).first()
    if provider is None:
        answer["unavailable"] = "Choose a provider to see its payload."
        return JsonResponse(answer)
    values = [s or f"{{{{{i + 1}}}}}" for i, s in enumerate(samples)]
    values += [f"{{{{{n}}}}}" for n in range(len(values) + 1, max(placeholders(content), default=0) + 1)]
    try:
        answer["request"] = preview_request(provider=provider, content=content, values=values)
    except (
        LookupError,
        ImportError,
        NotImplementedError,
        RenderError,
        KeyError,
        TypeError,
        ValueError,
    ) as exc:
        answer["unavailable"] = f"The {provider.kind} provider kind cannot build this payload: {exc}"
    return JsonResponse(answer)


def template_clone_view(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=pk)
    form = CloneForm(
        request.POST or None,
        template=template,
        initial={"name": f"{template.name}_copy"[:20], "language": template.language},
    )
    if request.method == "POST" and form.is_valid():
        clone = template_clone(
            template=template, name=form.cleaned_data["name"], language=form.cleaned_data["language"]
        )
        messages.success(request, f"Cloned {template.name} as {clone.name} (draft).")
        return redirect(clone.get_absolute_url())
    return render(request, "templates_app/clone.html", {"object": template, "form": form})


def template_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=pk)
    if request.method == "POST":
        result = template_delete(template=template)
        text = f"Template {template.name} deleted."
        if result.cancelled:
            text += f" Cancelled campaigns: {', '.join(result.cancelled)}."
        messages.success(request, text)
        return redirect("templates_app:list")
    campaigns = campaigns_using(template)
    return render(request, "templates_app/delete.html", {"object": template, "campaigns": campaigns})


def template_send_test(request: HttpRequest, pk: int) -> HttpResponse:
    template = get_object_or_404(MessageTemplate.objects.select_related("provider"), pk=pk)
    count = len(placeholders(template.content))
    form = SendTestForm(request.POST or None, placeholder_count=count, initial_values=template.sample_values)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            send_test_create(
                template=template, to=form.cleaned_data["to"], values=form.values(), user=request.user
            )
        messages.success(request, f"Test message to {form.cleaned_data['to']} queued.")
        return redirect("templates_app:send_test", pk=pk)
    tests = template.test_sends.all()[:10]
    context = {"object": template, "form": form, "tests": tests}
    if request.htmx and request.method == "GET":
        return render(request, "templates_app/_test_sends.html", context)
    return render(request, "templates_app/send_test.html", context)


def _download(document: dict, filename: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def template_export(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    templates = MessageTemplate.objects.select_related("provider")
    if pk:
        template = get_object_or_404(templates, pk=pk)
        return _download(templates_export([template]), f"template-{template.name}-{template.language}.json")
    ids = [int(i) for i in request.GET.getlist("id") if i.isdigit()]
    if ids:
        templates = templates.filter(pk__in=ids)
    return _download(templates_export(templates), "templates.json")


def template_import(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        result = templates_import(form.cleaned_data["file"])
        if result.saved:
            messages.success(
                request,
                f"Imported: {result.count('created')} created, {result.count('updated')} updated, "
                f"{result.count('unchanged')} unchanged.",
            )
            return redirect("templates_app:list")
    status = 400 if request.method == "POST" else 200
    return render(request, "templates_app/import.html", {"form": form, "result": result}, status=status)
