"""Strict, bounded API query parameters: `limit`/`offset` pages and the list filters.

A value that is not what the schema says (`?limit=true`, `?offset=null`, a number too large for the
database) answers 400 naming the parameter; nothing is silently ignored. `limit` is capped at
`MAX_LIMIT` (the schema says so).
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, pagination

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1
MAX_ID = 2**63 - 1


def _raw(request, name: str) -> str | None:
    raw = request.query_params.get(name)
    return None if raw in (None, "") else raw


def whole_number(request, name: str, *, minimum: int = 0, maximum: int = MAX_ID) -> int | None:
    """An optional whole-number query parameter within [minimum, maximum], or a 400 naming it."""
    raw = _raw(request, name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 20:
        raise exceptions.ValidationError({name: ["Enter a whole number."]})
    value = int(raw)
    if not minimum <= value <= maximum:
        raise exceptions.ValidationError({name: [f"Use a number from {minimum} to {maximum}."]})
    return value


def text(request, name: str, max_length: int = 200) -> str | None:
    raw = _raw(request, name)
    if raw is None:
        return None
    if "\x00" in raw or len(raw) > max_length:
        raise exceptions.ValidationError({name: [f"At most {max_length} characters, no NUL."]})
    return raw


def choice(request, name: str, choices) -> str | None:
    """An optional query parameter that must be one of `choices`."""
    raw = text(request, name, 60)
    if raw is not None and raw not in choices:
        raise exceptions.ValidationError({name: [f"Use one of: {', '.join(choices)}."]})
    return raw


def boolean(request, name: str) -> bool | None:
    raw = text(request, name, 5)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise exceptions.ValidationError({name: ["Use true or false."]})
    return raw.lower() in ("true", "1")


def date_time(request, name: str):
    """An optional ISO 8601 date-time (a naive one is in the server's time zone), or a 400."""
    raw = text(request, name, 40)
    if raw is None:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise exceptions.ValidationError({name: ["Use an ISO 8601 date and time."]})
    try:
        return timezone.make_aware(value) if timezone.is_naive(value) else value
    except (ValueError, OverflowError):
        raise exceptions.ValidationError({name: ["Use an ISO 8601 date and time."]}) from None


class StrictLimitOffsetPagination(pagination.LimitOffsetPagination):
    """Limit/offset pages; junk or out-of-range values answer 400 (DRF's own would ignore them)."""

    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request):
        value = whole_number(request, self.limit_query_param, minimum=1, maximum=self.max_limit)
        return self.default_limit if value is None else value

    def get_offset(self, request):
        value = whole_number(request, self.offset_query_param, minimum=0, maximum=MAX_OFFSET)
        return 0 if value is None else value

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.limit_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {self.default_limit}, at most {self.max_limit}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_limit},
            },
            {
                "name": self.offset_query_param,
                "required": False,
                "in": "query",
                "description": "Results to skip.",
                "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
            },
        ]
