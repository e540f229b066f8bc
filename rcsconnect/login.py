"""The login page: password, plus a TOTP code for admins when RCS_ADMIN_REQUIRE_TOTP is set (django-otp).

Admins' authenticator devices are added in the admin (OTP_TOTP > TOTP devices); a verified login marks the
session (django_otp.login), and the admin site refuses an admin whose session is not verified."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm


def totp_required(user) -> bool:
    return bool(getattr(settings, "RCS_ADMIN_REQUIRE_TOTP", False)) and user.is_superuser


class LoginForm(AuthenticationForm):
    otp_token = forms.CharField(
        label="Authenticator code (admins)",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        self.otp_device = None
        if user is None or not totp_required(user):
            return cleaned
        from django_otp import devices_for_user

        devices = list(devices_for_user(user, confirmed=True))
        token = (cleaned.get("otp_token") or "").strip()
        if not devices:
            raise forms.ValidationError(
                "An admin must log in with an authenticator app: ask another admin to add a TOTP device "
                "for you in the admin.",
                code="no_device",
            )
        if not token:
            raise forms.ValidationError("Enter the code from your authenticator app.", code="token_required")
        self.otp_device = next((d for d in devices if d.verify_token(token)), None)
        if self.otp_device is None:
            raise forms.ValidationError("That authenticator code is wrong or expired.", code="invalid_token")
        return cleaned


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        if form.otp_device is not None:
            from django_otp import login as otp_login

            otp_login(self.request, form.otp_device)
        return response
