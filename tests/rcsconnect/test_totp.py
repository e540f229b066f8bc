"""Optional TOTP for admins (RCS_ADMIN_REQUIRE_TOTP): the login asks admins for a code, no one else."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "correct-horse-9"  # noqa: S105


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


@pytest.fixture
def boss(db):
    user = User.objects.create_superuser("boss", "boss@example.com", PASSWORD)
    return user, TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


@pytest.mark.django_db
@override_settings(RCS_ADMIN_REQUIRE_TOTP=True)
def test_admin_needs_the_code_when_the_setting_is_on(boss):
    user, device = boss
    client = Client()
    response = client.post(reverse("login"), {"username": "boss", "password": PASSWORD})
    assert response.status_code == 200
    assert "Enter the code from your authenticator app." in response.content.decode()
    wrong = client.post(reverse("login"), {"username": "boss", "password": PASSWORD, "otp_token": "000000"})
    assert "wrong or expired" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp slows retries after a wrong code
    ok = client.post(reverse("login"), {"username": "boss", "password": PASSWORD, "otp_token": _code(device)})
    assert ok.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("audit_log")).status_code == 200


@pytest.mark.django_db
@override_settings(RCS_ADMIN_REQUIRE_TOTP=True)
def test_an_unverified_admin_session_is_refused(boss):
    user, _ = boss
    client = Client()
    client.force_login(user)  # as the admin's own login form would, without a code
    assert client.get("/admin/").status_code == 403
    assert client.get(reverse("audit_log")).status_code == 403


@pytest.mark.django_db
@override_settings(RCS_ADMIN_REQUIRE_TOTP=True)
def test_marketers_log_in_without_a_code(marketer):
    client = Client()
    assert client.post(reverse("login"), {"username": "marketer", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_off_by_default(boss):
    client = Client()
    assert client.post(reverse("login"), {"username": "boss", "password": PASSWORD}).status_code == 302
    assert client.get("/admin/").status_code == 200
