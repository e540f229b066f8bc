"""The explicit registry of provider kinds, filled from `settings.RCS_PROVIDER_KINDS`.

Dotted paths are imported on first use (not at import time); a duplicate slug is an error.
"""

from __future__ import annotations

from functools import cached_property

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import ProviderKind


class KindRegistry:
    @cached_property
    def _kinds(self) -> dict[str, type[ProviderKind]]:
        kinds: dict[str, type[ProviderKind]] = {}
        for path in settings.RCS_PROVIDER_KINDS:
            kind = import_string(path)
            if kind.slug in kinds:
                raise ImproperlyConfigured(f"Provider kind slug {kind.slug!r} is registered twice ({path}).")
            kinds[kind.slug] = kind
        return kinds

    def get(self, slug: str) -> type[ProviderKind]:
        try:
            return self._kinds[slug]
        except KeyError:
            raise LookupError(f"Unknown provider kind {slug!r}.") from None

    def all(self) -> list[type[ProviderKind]]:
        return list(self._kinds.values())

    def choices(self) -> list[tuple[str, str]]:
        return [(k.slug, k.name) for k in self._kinds.values()]

    def reset(self) -> None:
        """Forget the loaded kinds (tests that change RCS_PROVIDER_KINDS)."""
        self.__dict__.pop("_kinds", None)


registry = KindRegistry()
