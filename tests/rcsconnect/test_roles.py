from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.http import HttpRequest
from django.test import Client


@pytest.mark.django_db
def test_groups_get_their_permissions_after_migrate():
    marketer = Group.objects.get(name="Marketer")
    support = Group.objects.get(name="Support")
    assert marketer.permissions.filter(codename="add_provider").exists()
    assert marketer.permissions.filter(codename="change_campaign").exists()
    assert support.permissions.filter(codename="view_provider").exists()
    assert not support.permissions.filter(codename="delete_provider").exists()
    assert not support.permissions.filter(codename="add_campaign").exists()
    # Support edits nothing: the safe operations have their own permission
    assert not support.permissions.filter(codename__startswith="change_").exists()
    assert support.permissions.filter(codename="operate_provider").exists()
    assert marketer.permissions.filter(codename="operate_provider").exists()


@pytest.mark.django_db
def test_add_user_support_reaches_admin_read_only(capsys):
    call_command("add_user", "helpdesk", role="support")
    password = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    user = User.objects.get(username="helpdesk")
    assert user.is_staff and not user.is_superuser
    client = Client()
    # django-axes's backend needs the request it checks for lockouts
    assert client.login(request=HttpRequest(), username="helpdesk", password=password)
    assert client.get("/admin/").status_code == 200
    assert user.has_perm("providers.view_provider")
    assert not user.has_perm("providers.delete_provider")
