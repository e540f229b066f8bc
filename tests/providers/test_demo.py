from __future__ import annotations

import io

import pytest

from providers import demo
from providers.models import Provider

pytestmark = pytest.mark.django_db


def test_demo_providers_are_idempotent_and_point_at_the_simulator():
    for _ in range(2):
        demo.load(simulator_url="http://127.0.0.1:8025/", stdout=io.StringIO())
    generic = Provider.objects.get(nickname=demo.GENERIC_NICKNAME)
    jio = Provider.objects.get(nickname=demo.JIOCX_NICKNAME)
    assert Provider.objects.count() == 2
    assert generic.is_default and not jio.is_default
    assert generic.config["endpoint"] == "http://127.0.0.1:8025/generic/messages"
    assert generic.config["client_url"] == "http://127.0.0.1:8025/oauth/token"
    assert generic.config["template_status_url"] == "http://127.0.0.1:8025/templates/status"
    assert jio.config["base_url"] == "http://127.0.0.1:8025/jiocx"
    assert jio.secrets == {"api_key": "sim-api-key"}
