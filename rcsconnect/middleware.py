"""Every page needs a login, except the few listed here (login, vendor callbacks, short links)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse

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
