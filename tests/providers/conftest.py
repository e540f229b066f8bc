from __future__ import annotations

import pytest

from tests.providers.loopback import Vendor


@pytest.fixture
def vendor(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    server = Vendor()
    yield server
    server.stop()


@pytest.fixture
def session(settings):
    from rcsconnect.http import outbound_session

    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    with outbound_session(timeout=(2.0, 5.0)) as s:
        yield s


@pytest.fixture
def clean_cache(db):
    from django.core.cache import cache

    cache.clear()
    yield cache


@pytest.fixture
def client():
    """The test client, with the vendor callback URLs served through the middleware the production
    WSGI application gives them (rcsconnect.handlers), every other URL through settings.MIDDLEWARE."""
    from tests.stack import StackClient

    return StackClient()
