"""A test client that serves each URL through the middleware stack the production WSGI application
(rcsconnect.handlers) gives it: the vendor callback URLs through CALLBACK_MIDDLEWARE."""

from __future__ import annotations

from django.test import Client
from django.test.client import ClientHandler

from rcsconnect.handlers import CALLBACK_PREFIX, ShortStack


class ShortStackClientHandler(ShortStack, ClientHandler):
    pass


class _Routing:
    def __init__(self, enforce_csrf_checks: bool):
        self.full = ClientHandler(enforce_csrf_checks)
        self.callbacks = ShortStackClientHandler(enforce_csrf_checks)

    def __call__(self, environ):
        if environ.get("PATH_INFO", "").startswith(CALLBACK_PREFIX):
            return self.callbacks(environ)
        return self.full(environ)


class StackClient(Client):
    def __init__(self, enforce_csrf_checks: bool = False, **defaults):
        super().__init__(enforce_csrf_checks, **defaults)
        self.handler = _Routing(enforce_csrf_checks)
