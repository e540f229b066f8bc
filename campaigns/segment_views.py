"""Segment pages: the list, the builder (rule rows, the matching count live over htmx), delete.

The rule rows are this page's input shape (`rule-<n>-<field>`); `rules_from_post` turns them into
rule dicts and `campaigns.segments` checks and evaluates them, as for the API.
"""

from __future__ import annotations

import re

from django.contrib import messages
from django.db.models import Count, ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from rcsconnect.forms import DashboardModelForm

from . import segments
from .models import Audience, Segment

ROW = re.compile(r"^rule-(\d{1,3})-kind$")


class SegmentForm(DashboardModelForm):
    class Meta:
        model = Segment
        fields = ["name", "audience", "description", "match"]

    def clean(self):
        data = super().clean()
        clash = Segment.objects.filter(audience=data.get("audience"), name=data.get("name"))
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
            if data.get("audience") != self.instance.audience and self.instance.campaigns.exists():
                self.add_error("audience", "Campaigns use this segment; its audience stays.")
        if data.get("name") and clash.exists():
            self.add_error("name", f"{data.get('audience')} already has a segment named {data.get('name')}.")
        return data


def rules_from_post(data) -> list[dict]:
    """The rule rows of the builder, in row order, as rule dicts (not yet checked)."""
    rows = sorted(int(m.group(1)) for key in data if (m := ROW.match(key)))
    rules = []
    for n in rows:
        get = lambda name, n=n: (data.get(f"rule-{n}-{name}") or "").strip()  # noqa: E731
        kind = get("kind")
        if not kind:
            continue  # an empty row (the kind not chosen) is no rule
        if kind == "subscribed":
            rules.append({"kind": kind, "value": get("subscribed") != "no"})
        elif kind == "country":
            rules.append({"kind": kind, "value": [c for c in re.split(r"[\s,]+", get("value")) if c]})
        elif kind == "engagement":
            rules.append(
                {"kind": kind, "event": get("event"), "days": get("days"), "op": get("did") or "did"}
            )
        else:
            op = get("op")
            rule = {"kind": kind, "name": get("name"), "op": op}
            if op in ("between", "date_between"):
                rule.update(min=get("min") or None, max=get("max") or None)
            else:
                rule["value"] = get("value")
            rules.append(rule)
    return rules


def _rows(rules: list[dict], errors: dict[str, str]) -> list[dict]:
    """What the rule rows show: each rule's fields as strings, and its problem."""
    rows = []
    for i, rule in enumerate(rules):
        value = rule.get("value", "")
        rows.append(
            {
                "n": i,
                "kind": rule.get("kind", ""),
                "name": rule.get("name", ""),
                "op": rule.get("op", ""),
                "value": ", ".join(map(str, value)) if isinstance(value, list) else value,
                "subscribed": "no" if rule.get("kind") == "subscribed" and value is False else "yes",
                "min": "" if rule.get("min") is None else rule["min"],
                "max": "" if rule.get("max") is None else rule["max"],
                "event": rule.get("event", ""),
                "days": rule.get("days", ""),
                "did": rule.get("op", "did") if rule.get("kind") == "engagement" else "did",
                "error": errors.get(str(i), ""),
            }
        )
    return rows


def _choices() -> dict:
    return {
        "kinds": [
            ("attribute", "Attribute"),
            ("subscribed", "Subscribed"),
            ("country", "Country"),
            ("engagement", "Engagement"),
        ],
        "ops": [
            ("equals", "equals"),
            ("contains", "contains"),
            ("in", "is one of (comma-separated)"),
            ("between", "number between"),
            ("date_between", "date between"),
        ],
        "events": [(e, e) for e in segments.EVENTS],
    }


@require_safe
def segment_list(request: HttpRequest) -> HttpResponse:
    found = Segment.objects.select_related("audience").annotate(campaign_count=Count("campaigns"))
    audience = request.GET.get("audience", "")
    if audience.isdigit():
        found = found.filter(audience_id=audience)
    return render(request, "campaigns/segment_list.html", {"segments": found, "describe": segments.describe})


@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk) if pk else Segment(created_by=request.user)
    initial = {"audience": request.GET["audience"]} if request.GET.get("audience", "").isdigit() else {}
    form = SegmentForm(request.POST if request.method == "POST" else None, instance=segment, initial=initial)
    rules, errors = (rules_from_post(request.POST), {}) if request.method == "POST" else (segment.rules, {})
    if request.method == "POST":
        try:
            rules = segments.clean_rules(rules)
        except segments.SegmentError as exc:
            errors = exc.errors
        if form.is_valid() and not errors:
            segment = form.save(commit=False)
            segment.rules = rules
            segment.save()
            messages.success(request, f"Segment {segment} saved.")
            return redirect(segment)
    context = {
        "form": form,
        "segment": segment,
        "rows": _rows(rules, errors),
        "rules_error": errors.get("rules", ""),
        "attributes": _attributes(form),
        **_choices(),
    }
    return render(request, "campaigns/segment_form.html", context)


def _attributes(form: SegmentForm) -> list[str]:
    raw = form["audience"].value()
    audience = Audience.objects.filter(pk=raw).first() if str(raw or "").isdigit() else None
    return audience.attribute_names() if audience else []


@require_safe
def segment_count(request: HttpRequest) -> HttpResponse:
    """The builder's live count (htmx): the rows as they are now, evaluated in the database."""
    raw = request.GET.get("audience", "")
    audience = Audience.objects.filter(pk=raw).first() if raw.isdigit() else None
    context: dict = {"audience": audience}
    if audience is not None:
        try:
            rules = segments.clean_rules(rules_from_post(request.GET))
        except segments.SegmentError as exc:
            context["problem"] = str(exc)
        else:
            match = request.GET.get("match") if request.GET.get("match") in Segment.Match.values else "all"
            found = segments.matching(audience.pk, rules, match)
            context.update(count=found.count(), subscribed=found.filter(subscribed=True).count())
            context["total"] = audience.contacts.count()
    return render(request, "campaigns/_segment_count.html", context)


@require_POST
def segment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    try:
        segment.delete()
    except ProtectedError:
        messages.error(request, f"Campaigns use segment {segment}; it stays.")
        return redirect(segment)
    messages.success(request, f"Segment {segment} deleted.")
    return redirect("campaigns:segment_list")
