"""The site's own 403, 404 and 500 pages, the favicon, and demo media shipped as static files."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db


def test_an_unknown_page_is_a_404_in_the_site_layout(marketer_client):
    response = marketer_client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in html and 'class="mainnav"' in html and "/no-such-page/" in html
    assert "Using the URLconf" not in html  # not Django's debug page


def test_the_500_page_is_in_the_site_style_without_a_request_context():
    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in html and "/static/css/app" in html and "favicon" in html


def test_favicon_is_shipped_linked_and_answered_at_the_root(marketer_client):
    assert finders.find("img/favicon.svg")
    assert 'rel="icon" href="/static/img/favicon.svg"' in marketer_client.get("/").content.decode()
    response = Client().get("/favicon.ico")  # anonymous: browsers ask before any login
    assert response.status_code == 302 and response.url == "/static/img/favicon.svg"


def test_demo_templates_use_images_shipped_with_the_project(settings):
    from providers import demo as provider_demo
    from templates_app import demo as template_demo
    from templates_app.models import MessageTemplate

    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    provider_demo.load(simulator_url="http://127.0.0.1:8025", stdout=io.StringIO())
    template_demo.load(simulator_url="http://127.0.0.1:8025", stdout=io.StringIO())
    contents = [t.content for t in MessageTemplate.objects.all()]
    urls = [
        card["media"]["url"]
        for content in contents
        for card in ([content["card"]] if "card" in content else content.get("cards", []))
    ]
    assert len(urls) == 4 and "picsum" not in json.dumps(contents)
    for url in urls:
        assert url.startswith("http://127.0.0.1:8000/static/demo/"), url
        assert finders.find(url.removeprefix("http://127.0.0.1:8000/static/")), url


def test_a_permission_refused_in_a_view_is_a_403_in_the_site_layout(marketer):
    """The route table answers most refusals (no_access.html); a view's own check (PermissionDenied)
    gets the same page, not Django's bare "403 Forbidden"."""
    from django.core.exceptions import PermissionDenied
    from django.views.defaults import permission_denied

    request = RequestFactory().get("/somewhere/")
    request.user, request.csp_nonce = marketer, "n"
    response = permission_denied(request, PermissionDenied())
    html = response.content.decode()
    assert response.status_code == 403
    assert "No access" in html and 'class="mainnav"' in html and "/static/css/app" in html
