"""Every page needs a login, except the few listed here (login, vendor callbacks, short links); every
dashboard route is then checked against the permissions table (rcsconnect.roles)."""

from __future__ import annotations

import logging

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from . import roles

# Path prefixes reachable without a session: vendors and recipients are not users.
PUBLIC_PREFIXES = (
    "/accounts/login/",
    "/static/",
    "/favicon.ico",
    "/callbacks/",
    "/c/",
    "/healthz",
    "/api/",  # DRF does its own authentication and answers 401/403 in JSON
    "/contract/",
)
# Namespaces that check the table themselves: DRF (token users) and the admin site.
SELF_CHECKED = ("api", "admin")


def no_access(request: HttpRequest) -> HttpResponse:
    """The 403 page: the user is logged in, but their role does not include this page or action."""
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    context = {"has_role": roles.has_role(request.user)}
    return render(request, "no_access.html", context, status=403)


class LoginRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The path first: a public URL (a vendor callback) never needs its session and user loaded.
        if request.path.startswith(PUBLIC_PREFIXES) or request.user.is_authenticated:
            return self.get_response(request)
        if request.headers.get("Accept", "").startswith("application/json"):
            return JsonResponse({"detail": "Authentication credentials were not provided."}, status=401)
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or (match.namespaces and match.namespaces[0] in SELF_CHECKED):
            return None
        if roles.route_entry(match.view_name) == roles.PUBLIC:
            return None
        if not roles.allowed(request.user, match.view_name, request.method, view_kwargs):
            return no_access(request)
        return None


class AuditActorMiddleware(AuditlogMiddleware):
    """auditlog's middleware (the logged-in user is the actor), skipped on the public paths: vendor
    callbacks and short links are the hot paths, have no user, and change no audited model by hand."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(("/callbacks/", "/c/", "/static/", "/healthz")):
            return self.get_response(request)
        return super().__call__(request)


# Machine-facing prefixes: every error they answer is JSON with a reason, never an HTML page.
JSON_PREFIXES = ("/api/", "/callbacks/")
REASONS = {
    400: "Bad request.",
    403: "Forbidden.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    500: "Server error.",
}
logger = logging.getLogger(__name__)


class JsonErrorsMiddleware:
    """Error answers of the API (`{"detail": ...}`) and the callback endpoint (`{"status": "error",
    "error": ...}`) in JSON: input Django or the JSON decoder gives up on (a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE: 413; JSON nested too deep for the decoder: 400; undecodable
    text: 400) is answered as a client error, and Django's HTML error pages are turned into JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith(JSON_PREFIXES)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return _json_error(request, response.status_code, REASONS.get(response.status_code, "Error."))
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not request.path.startswith(JSON_PREFIXES):
            return None
        if isinstance(exc, RequestDataTooBig):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return _json_error(request, 413, f"Request body too large (at most {limit} bytes).")
        if isinstance(exc, RecursionError):
            return _json_error(request, 400, "JSON nested too deeply.")
        if isinstance(exc, UnicodeError):
            return _json_error(request, 400, "The request is not valid UTF-8.")
        if isinstance(exc, SuspiciousOperation):
            logger.warning("suspicious request refused: %s", exc)
            return _json_error(request, 400, "Bad request.")
        return None


def _json_error(request: HttpRequest, status: int, reason: str) -> JsonResponse:
    if request.path.startswith("/callbacks/"):
        return JsonResponse({"status": "error", "error": reason}, status=status)
    return JsonResponse({"detail": reason}, status=status)


class UserTimezoneMiddleware:
    """Times on every page in the logged-in user's timezone (their profile; UTC until it is set)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import zoneinfo

        from django.utils import timezone

        from . import timezones

        name = ""
        if not request.path.startswith(PUBLIC_PREFIXES) and request.user.is_authenticated:
            name = timezones.for_request(request)
        if timezones.is_valid(name):
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
