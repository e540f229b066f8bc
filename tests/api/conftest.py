from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def api(marketer) -> APIClient:
    """An API client authenticated with the marketer's token (the integrator's way in)."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=marketer)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def support_api(db) -> APIClient:
    user = User.objects.create_user("support", password="correct-horse-9")
    user.groups.add(Group.objects.get(name="Support"))
    client = APIClient()
    client.force_authenticate(user)
    return client
