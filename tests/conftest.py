"""Shared fixtures. App-specific fixtures live in tests/<app>/conftest.py."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

# Fixture modules shared by several test packages.
pytest_plugins = ["tests.fixtures.simulator", "tests.providers.callback_double"]


@pytest.fixture
def marketer(db) -> User:
    user = User.objects.create_user("marketer", password="correct-horse-9")
    user.groups.add(Group.objects.get(name="Marketer"))
    return user


@pytest.fixture
def admin_user_(db) -> User:
    return User.objects.create_superuser("boss", "boss@example.com", "correct-horse-9")


@pytest.fixture
def marketer_client(client, marketer):
    client.force_login(marketer)
    return client


@pytest.fixture
def sync_tasks(monkeypatch):
    """Run django-q2 tasks inline (async_task returns after the task ran)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    return Conf


@pytest.fixture(autouse=True)
def _fresh_local_tokens():
    """OAuth tokens kept in this process's memory do not leak from one test into the next."""
    from providers.auth import forget_local_tokens

    forget_local_tokens()
    yield
    forget_local_tokens()


@pytest.fixture(autouse=True)
def _fresh_applier_kick_memo(monkeypatch):
    """What one test's process learnt about the events applier does not skip the next test's kicks."""
    monkeypatch.setattr("campaigns.events._applier_seen_at", float("-inf"))
