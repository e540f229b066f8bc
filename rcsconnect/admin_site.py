"""The admin site: open to the roles the permissions table names (rcsconnect.roles.ADMIN_SITE_ROLES) and
to admins; each ModelAdmin then answers with its model's permissions from the same table."""

from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class RoleAdminSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        from . import roles
        from .login import totp_required

        if totp_required(request.user) and not request.user.is_verified():
            return False  # an admin logged in without their authenticator code
        return roles.may_use_admin_site(request.user)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        @functools.wraps(view)
        def checked(request, *args, **kwargs):
            if request.user.is_authenticated and not self.has_permission(request):
                from .middleware import no_access

                return no_access(request)
            return inner(request, *args, **kwargs)

        checked.admin_site = self
        return checked

    def login(self, request, extra_context=None):
        # A logged-in user whose role has no admin site (a Marketer) gets the 403 page, not a login form.
        if request.user.is_authenticated and not self.has_permission(request):
            from .middleware import no_access

            return no_access(request)
        return super().login(request, extra_context)


class RoleAdminConfig(AdminConfig):
    default_site = "rcsconnect.admin_site.RoleAdminSite"
