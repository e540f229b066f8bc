"""Every page needs a login, except the few listed here (login, vendor callbacks, short links); every
dashboard route is then checked against the permissions table (rcsconnect.roles)."""

from __future__ import annotations

from auditlog.middleware import AuditlogMiddleware
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from . import roles

# Path prefixes reachable without a session: vendors and recipients are not users.
PUBLIC_PREFIXES = (
    "/accounts/login/",
    "/static/",
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
