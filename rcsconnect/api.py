"""The REST API's shared pieces: permissions, JSON-only parsing, error shape, the token view and the API
docs views (Swagger UI and Redoc served from drf-spectacular-sidecar, no CDN).

Each app keeps its serializers and viewsets in `<app>/api.py` and imports its helpers from here;
`rcsconnect.api_urls` wires them under /api/ (so no two modules import each other).
Errors are JSON: `{"field": ["message"]}` for bad input (400), `{"detail": "..."}` otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView
from rest_framework import exceptions, parsers, permissions, serializers, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from . import pagination
from .permissions import RolePermissions

logger = logging.getLogger(__name__)


# -- request parsing and errors ---------------------------------------------------------------------


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class StrictJSONParser(parsers.JSONParser):
    """JSON bodies only; NUL characters are refused (PostgreSQL cannot store them in text)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if _has_nul(data):
            raise exceptions.ParseError("Strings must not contain NUL (\\u0000) characters.")
        return data


def _json_types_only() -> None:
    """Input fields take the JSON type the schema gives them: DRF would turn `0` into `"0"` for a
    string, `"5"` into 5 for a number or an id, and `"yes"` into true, so a request the schema calls
    invalid would be stored. Serializers are used for API input only."""

    def strict(field_class, types: tuple[type, ...], message: str) -> None:
        original = field_class.to_internal_value
        if getattr(original, "json_types_only", False):
            return

        def to_internal_value(self, data):
            if not isinstance(data, types) or (isinstance(data, bool) and bool not in types):
                raise serializers.ValidationError(message, code="invalid")
            return original(self, data)

        to_internal_value.json_types_only = True
        field_class.to_internal_value = to_internal_value

    strict(serializers.CharField, (str,), "Give a string.")
    strict(serializers.IntegerField, (int,), "Give a whole number.")
    strict(serializers.BooleanField, (bool,), "Give true or false.")
    strict(serializers.DateTimeField, (str,), "Give an ISO 8601 date and time as a string.")
    strict(serializers.PrimaryKeyRelatedField, (int,), "Give the record's id (a whole number).")


_json_types_only()


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus database refusals turned into 4xx instead of a 500."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, ProtectedError | RestrictedError):
        blockers = sorted({str(obj) for obj in exc.protected_objects if obj is not None})[:20]
        return Response(
            {"detail": "Still used by other records; remove or archive those first.", "used_by": blockers},
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, DataError | OverflowError) or (
        isinstance(exc, IntegrityError) and "datatype mismatch" in str(exc)
    ):
        # A type or range error (SQLite reports a datatype mismatch as an integrity error): bad input.
        return Response(
            {"detail": "A value is out of range or malformed."}, status=status.HTTP_400_BAD_REQUEST
        )
    elif isinstance(exc, IntegrityError):
        logger.warning("integrity error answered with 409: %s", exc)
        return Response(
            {"detail": "This conflicts with an existing record."}, status=status.HTTP_409_CONFLICT
        )
    return drf_exception_handler(exc, context)


def query_int(request, name: str) -> int | None:
    """An optional id-like query parameter (a whole number), or a 400 naming it (rcsconnect.pagination)."""
    return pagination.whole_number(request, name)


def query_str(request, name: str, max_length: int = 200) -> str | None:
    return pagination.text(request, name, max_length)


class ApiMixin:
    """What every API view shares: JSON in, role permissions, the error handler."""

    parser_classes = [StrictJSONParser]
    permission_classes = [permissions.IsAuthenticated, RolePermissions]

    def get_exception_handler(self):
        return exception_handler


# -- error responses in the schema ----------------------------------------------------------------


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses for `codes`; their bodies and descriptions come from rcsconnect.schema (which adds
    the usual ones to every operation by itself)."""
    return {code: OpenApiResponse(description="") for code in codes}


def paginated(serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
    """The schema of a limit/offset page of `serializer_class` items, for views that page by hand."""
    name = serializer_class.__name__.removesuffix("Serializer")
    return inline_serializer(
        name=f"Paginated{name}List",
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


# -- docs -----------------------------------------------------------------------------------------------


class _LoginFirst:
    """HTML docs pages send anonymous visitors to the login page (the schema itself answers 401/403)."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not RolePermissions().has_permission(request, self):
            raise exceptions.PermissionDenied()
        response = super().get(request, *args, **kwargs)
        # Swagger UI and Redoc start from an inline script in drf-spectacular's templates: these two
        # pages (login and a role required) go without the site's Content-Security-Policy.
        response._csp_exempt = True
        return response


class DocsView(_LoginFirst, SpectacularSwaggerView):
    template_name = "rcsconnect/api_docs.html"  # Swagger UI inside the site's page (navigation kept)


class RedocView(_LoginFirst, SpectacularRedocView):
    pass


TokenSerializer = inline_serializer("Token", {"token": serializers.CharField()})
TokenRequestSerializer = inline_serializer(
    "Credentials",
    {"username": serializers.CharField(), "password": serializers.CharField()},
)


class TokenView(ApiMixin, ObtainAuthToken):
    """Exchange a username and password for the user's API token.

    Send it as `Authorization: Token <key>` (or `Bearer <key>`). Wrong credentials answer 401; too many
    failures lock the account out (429)."""

    permission_classes = [permissions.AllowAny]
    parser_classes = [StrictJSONParser, parsers.FormParser]
    schema_error_codes = ["429"]

    @extend_schema(
        request=TokenRequestSerializer, responses={200: TokenSerializer}, operation_id="token_create"
    )
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except exceptions.ValidationError as exc:
            # django-axes marks the request it refused (too many failures): say so, not "wrong password".
            if getattr(request, "axes_locked_out", False) or getattr(
                request._request, "axes_locked_out", False
            ):
                return Response(
                    {"detail": "Locked out after too many failed logins; try again later."},
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                )
            codes = exc.get_codes()
            if isinstance(codes, dict) and codes.get("non_field_errors") == ["authorization"]:
                return Response(
                    {"detail": "Unable to log in with the provided credentials."},
                    status=status.HTTP_401_UNAUTHORIZED,
                    headers={"WWW-Authenticate": "Token"},
                )
            raise
