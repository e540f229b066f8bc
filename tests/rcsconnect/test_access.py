"""Every dashboard page needs a login; the API answers 401/403 in JSON, never data."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PUBLIC = ("login", "healthz", "callback", "favicon")


def _dashboard_urls():
    """Every named dashboard route without arguments, plus detail routes with a dummy id."""
    found = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{prefix}{p.namespace}:" if p.namespace else prefix
                if p.namespace in ("admin", "api"):
                    continue
                walk(p.url_patterns, ns)
            elif isinstance(p, URLPattern) and p.name and p.name not in PUBLIC:
                found.append(prefix + p.name)

    walk(get_resolver().url_patterns)
    return sorted(set(found))


def _reverse_any(name):
    from django.urls.exceptions import NoReverseMatch

    for args in ((), (1,), ("x",), (1, 1)):
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return None


@pytest.mark.django_db
def test_every_dashboard_url_redirects_anonymous_users_to_login(client):
    names = _dashboard_urls()
    assert len(names) >= 8
    checked = 0
    for name in names:
        url = _reverse_any(name)
        if url is None or url.startswith(("/c/", "/callbacks/", "/api/", "/contract/")):
            continue
        response = client.get(url)
        assert response.status_code == 302, (name, url, response.status_code)
        assert response["Location"].startswith(reverse("login")), (name, url)
        checked += 1
    assert checked >= 8


@pytest.mark.django_db
def test_login_page_renders_for_anonymous(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content


@pytest.mark.django_db
def test_login_then_dashboard(client, marketer):
    response = client.post(reverse("login"), {"username": "marketer", "password": "correct-horse-9"})
    assert response.status_code == 302
    assert client.get(reverse("providers:list")).status_code == 200


@pytest.mark.django_db
def test_marketer_groups_exist():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"Marketer", "Support"}
