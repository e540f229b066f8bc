"""Brute-force protection: the login page and /api/token/ lock out after RCS_LOGIN_FAILURE_LIMIT failures."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

GOOD = {"username": "asha", "password": "correct-horse-9"}
BAD = {"username": "asha", "password": "wrong"}


@pytest.fixture
def user(db):
    return User.objects.create_user("asha", password="correct-horse-9")


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=3)
def test_login_page_locks_out_after_the_limit_even_for_the_right_password(user):
    client = Client()
    for _ in range(2):
        response = client.post(reverse("login"), {"username": "asha", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    response = client.post(reverse("login"), {"username": "asha", "password": "wrong"})
    assert response.status_code == 429
    response = client.post(reverse("login"), {"username": "asha", "password": "correct-horse-9"})
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # another user from the same address is not locked out
    User.objects.create_user("ravi", password="correct-horse-9")
    assert (
        client.post(reverse("login"), {"username": "ravi", "password": "correct-horse-9"}).status_code == 302
    )


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=3)
def test_api_token_locks_out_after_the_limit(user):
    api = APIClient()
    for _ in range(3):
        assert api.post(
            "/api/token/", {"username": "asha", "password": "wrong"}, format="json"
        ).status_code in (401, 429)
    response = api.post("/api/token/", {"username": "asha", "password": "correct-horse-9"}, format="json")
    assert response.status_code == 429
    assert "locked" in response.json()["detail"].lower()
    assert "token" not in response.json()


@pytest.mark.django_db
def test_right_password_under_the_limit_logs_in(user):
    client = Client()
    client.post(reverse("login"), {"username": "asha", "password": "wrong"})
    assert (
        client.post(reverse("login"), {"username": "asha", "password": "correct-horse-9"}).status_code == 302
    )
    api = APIClient()
    assert api.post("/api/token/", {"username": "asha", "password": "correct-horse-9"}, format="json").json()[
        "token"
    ]
