from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from . import timezones
from .forms import DashboardForm


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def favicon(request: HttpRequest) -> HttpResponse:
    # Resolved per request: the hashed name exists only once collectstatic has run.
    return redirect(static("img/favicon.svg"))


def redirect_next(request: HttpRequest, default: str, *args) -> HttpResponse:
    """Redirect to the request's `next` when it stays on this site, else to `default` (a URL name)."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default, *args)


AUDIT_PAGE = 100


def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit log, newest first, filtered by who (username), what (model or object) and when (dates)."""
    from auditlog.models import LogEntry
    from django.core.paginator import Paginator
    from django.shortcuts import render
    from django.utils.dateparse import parse_date

    entries = LogEntry.objects.select_related("actor", "content_type").order_by("-timestamp")
    who, what = request.GET.get("who", "").strip(), request.GET.get("what", "").strip()
    since, until = parse_date(request.GET.get("since", "")), parse_date(request.GET.get("until", ""))
    if who == "system":
        entries = entries.filter(actor__isnull=True)
    elif who:
        entries = entries.filter(actor__username=who)
    if what:
        entries = entries.filter(content_type__model=what.lower()) | entries.filter(
            object_repr__icontains=what
        )
    if since:
        entries = entries.filter(timestamp__date__gte=since)
    if until:
        entries = entries.filter(timestamp__date__lte=until)
    page = Paginator(entries, AUDIT_PAGE).get_page(request.GET.get("page"))
    filters = {"who": who, "what": what, "since": since or "", "until": until or ""}
    return render(request, "audit_log.html", {"page": page, "filters": filters})


class ProfileForm(DashboardForm):
    timezone = timezones.timezone_field(help_text="Times are entered and shown in this timezone.")


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """The user's own settings: the timezone every time is entered and shown in."""
    from django.contrib import messages
    from django.shortcuts import render

    current = timezones.for_request(request) or timezones.DEFAULT
    form = ProfileForm(request.POST if request.method == "POST" else None, initial={"timezone": current})
    if request.method == "POST" and form.is_valid():
        timezones.save(request, form.cleaned_data["timezone"])
        messages.success(request, f"Times are now shown in {form.cleaned_data['timezone']}.")
        return redirect("profile")
    return render(request, "rcsconnect/profile.html", {"form": form})


@require_POST
def profile_timezone(request: HttpRequest) -> HttpResponse:
    """The browser's own timezone, posted once by app.js while the profile has none (never overrides)."""
    name = request.POST.get("timezone", "")
    if not timezones.is_valid(name):
        return JsonResponse({"timezone": [f"Unknown timezone {name[:64]!r}."]}, status=400)
    timezones.save(request, name, only_if_unset=True)
    return HttpResponse(status=204)
