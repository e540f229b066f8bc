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


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    try:
        cache.clear()
    except Exception:  # noqa: BLE001, S110 - the database cache table exists only with the db fixture
        pass
    yield
