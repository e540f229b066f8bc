"""The WSGI application: vendor callbacks through a short middleware stack, every other URL through
settings.MIDDLEWARE.

`/callbacks/<token>/` is machine to machine and the hot path while a campaign sends (three requests
and more a message). It has no session, user, CSRF token, flash messages, HTMX, login lockout, audit
actor, login redirect or user timezone, so those middlewares do not run for it (measured: they were
most of a callback's CPU outside the view, bench/callbacks.py). It keeps what guards every answer:
JSON errors (a body over DATA_UPLOAD_MAX_MEMORY_SIZE answered 413 JSON, no HTML error page), the
security middleware (HTTPS redirect, HSTS, nosniff), X-Frame-Options and the Content-Security-Policy
header. The view itself makes every WIRE.md 3 check (token, HMAC / Basic, replay window, caps) and
stores the raw body byte for byte, whichever stack runs it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

CALLBACK_PREFIX = "/callbacks/"
CALLBACK_MIDDLEWARE = (
    "rcsconnect.middleware.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
)


class ShortStack:
    """A Django handler (WSGIHandler, or the test client's) with its own middleware list instead of
    settings.MIDDLEWARE."""

    middleware_paths: tuple[str, ...] = CALLBACK_MIDDLEWARE

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware builds the chain from settings.MIDDLEWARE; it runs once, while
        # the process starts (before any request), so the list is swapped in for that call only.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = list(self.middleware_paths)
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


class ShortStackHandler(ShortStack, WSGIHandler):
    """The WSGI handler of the callback URLs."""


def get_application():
    """The project's WSGI callable: callbacks through CALLBACK_MIDDLEWARE, the rest as configured."""
    main = get_wsgi_application()  # sets Django up first
    callbacks = ShortStackHandler()

    def application(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(CALLBACK_PREFIX):
            return callbacks(environ, start_response)
        return main(environ, start_response)

    return application
