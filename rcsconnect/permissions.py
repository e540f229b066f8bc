"""The API's permission class: the permissions table (rcsconnect.roles.ROUTES) for the route and method.

A module of its own so DRF's settings can import it without importing the views (a circular import)."""

from __future__ import annotations

from rest_framework import permissions

from . import roles


class RolePermissions(permissions.BasePermission):
    """Read for every API call: DRF has authenticated the user (session or token) by now."""

    def has_permission(self, request, view) -> bool:
        if not hasattr(view, request.method.lower()):
            return True  # no such method on this route: DRF answers 405, nothing runs
        from .audit import set_request_actor

        set_request_actor(request.user)  # DRF authenticated a token user just now
        match = request.resolver_match
        if match is None:
            return False
        return roles.allowed(request.user, match.view_name, request.method, match.kwargs)
