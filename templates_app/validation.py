"""The one template validation service: the builder, the API serializer, the admin and the JSON import
call it. Content limits are `templates_app.limits`; this adds the name rules, the one-name-per-provider
and language rule, and the defaults every surface applies before it validates and saves (a suggestion
without postback data answers with its label, so a template behaves the same however it was made).

Errors are `{field: [message, ...]}`: "name", "format", "content.<path>" (the path of
`limits.validate_content`, "content" for the whole message), "samples.<i>".
"""

from __future__ import annotations

import copy
from typing import Any

from providers.models import Provider

from .limits import name_errors, validate_content
from .models import MessageTemplate

Errors = dict[str, list[str]]


def with_defaults(content: Any) -> Any:
    """The content with each suggestion's blank postback data set to its label."""
    if not isinstance(content, dict):
        return content
    content = copy.deepcopy(content)
    lists = [content.get("suggestions")]
    cards = [content.get("card")] + list(content.get("cards") or [])
    lists += [card.get("suggestions") for card in cards if isinstance(card, dict)]
    for suggestions in lists:
        for s in suggestions if isinstance(suggestions, list) else []:
            if isinstance(s, dict) and not str(s.get("postback_data") or "").strip():
                s["postback_data"] = str(s.get("text") or "").strip()
    return content


def content_errors(content: Any, samples: list[str]) -> tuple[Errors, Errors]:
    """(errors, warnings) of the content by its own path (the builder shows them by path)."""
    return validate_content(with_defaults(content), sample_values=[str(v) for v in samples])


def name_problems(
    name: str, provider: Provider | None, language: str, instance: MessageTemplate | None = None
) -> Errors:
    """The name's rules, and one template per provider, name and language."""
    if problems := name_errors(name):
        return {"name": problems}
    if provider is not None and language:
        clash = MessageTemplate.objects.filter(provider=provider, name=name, language=language)
        if instance is not None and instance.pk:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            return {"name": [f"{provider} already has a template {name!r} in language {language!r}."]}
    return {}


def template_errors(
    *,
    content: Any,
    samples: list[str],
    name: str | None = None,
    provider: Provider | None = None,
    language: str = "en",
    fmt: str | None = None,
    instance: MessageTemplate | None = None,
) -> Errors:
    """Every rule for a template (name None: the name is not being set)."""
    errors = name_problems(name, provider, language, instance) if name is not None else {}
    found, _ = content_errors(content, samples)
    for path, messages in found.items():
        key = path if path.startswith("samples.") else f"content.{path}" if path else "content"
        errors.setdefault(key, []).extend(messages)
    if fmt and isinstance(content, dict) and content.get("type") != fmt:
        errors["format"] = ["The format must match the content type."]
    return errors
