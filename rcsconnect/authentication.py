"""API authentication: the user's API token (rest_framework.authtoken), as `Token <key>` or `Bearer <key>`."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication


class BearerTokenAuthentication(TokenAuthentication):
    """The same API token as `Authorization: Bearer <key>` (what generated clients send by default)."""

    keyword = "Bearer"
