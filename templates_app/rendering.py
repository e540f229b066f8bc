"""Placeholders in neutral content: find them, and render content with values.

Placeholders are positional, `{{1}}`, `{{2}}` ..., and are allowed in the message text, card titles and
descriptions, OPEN_URL URLs and media / thumbnail URLs (WIRE.md 5). Everything else is copied as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote, urlsplit

PLACEHOLDER_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
# Anything that looks like a placeholder attempt, used to reject malformed ones ({{name}}, {{ }}).
PLACEHOLDER_LIKE_RE = re.compile(r"\{\{.*?\}\}")

# How an OPEN_URL suggestion's URL is used. "tracked" URLs are wrapped in a short link by the campaign
# (when click tracking is "ours"); "dynamic" URLs end in a `{{n}}` suffix; "static" URLs are fixed.
URL_STATIC, URL_DYNAMIC, URL_TRACKED = "static", "dynamic", "tracked"
URL_KINDS = (URL_STATIC, URL_DYNAMIC, URL_TRACKED)

# Characters kept unescaped when a value is put into a URL suffix (a value may be a path or a query).
# Not `@` or `\`: in the authority they would change the host (`https://shop.example{{1}}` with
# `@evil.com`); a value that changes the host anyway (`.evil.com`, `:1@evil.com`) is refused.
_URL_SAFE = "/?&=#%+:;,~!$'()*-._"


class RenderError(ValueError):
    """A placeholder has no value."""


def text_fields(content: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """Yield (path, kind, value) for every field that may hold placeholders, in reading order.

    kind is "text" for message text, titles and descriptions and "url" for URLs.
    """
    ctype = content.get("type")
    if ctype == "TEXT":
        yield "text", "text", content.get("text") or ""
        yield from _suggestion_fields(content.get("suggestions"), "suggestions")
    elif ctype == "RICH_CARD":
        yield from _card_fields(content.get("card") or {}, "card")
    elif ctype == "CAROUSEL":
        for i, card in enumerate(content.get("cards") or []):
            yield from _card_fields(card or {}, f"cards.{i}")
    elif ctype == "MEDIA":
        yield from _media_fields(content.get("media"), "media")
        yield from _suggestion_fields(content.get("suggestions"), "suggestions")


def _card_fields(card: dict, path: str) -> Iterator[tuple[str, str, str]]:
    yield f"{path}.title", "text", card.get("title") or ""
    yield f"{path}.description", "text", card.get("description") or ""
    yield from _media_fields(card.get("media"), f"{path}.media")
    yield from _suggestion_fields(card.get("suggestions"), f"{path}.suggestions")


def _media_fields(media: dict | None, path: str) -> Iterator[tuple[str, str, str]]:
    if media:
        yield f"{path}.url", "url", media.get("url") or ""
        yield f"{path}.thumbnail_url", "url", media.get("thumbnail_url") or ""


def _suggestion_fields(suggestions: list | None, path: str) -> Iterator[tuple[str, str, str]]:
    for i, suggestion in enumerate(suggestions or []):
        if (suggestion or {}).get("type") == "OPEN_URL":
            yield f"{path}.{i}.url", "url", suggestion.get("url") or ""


def placeholders(content: dict[str, Any]) -> list[int]:
    """The placeholder numbers used in content, sorted and without duplicates."""
    found = {int(m) for _, _, value in text_fields(content) for m in PLACEHOLDER_RE.findall(value)}
    return sorted(found)


def placeholders_in_order(content: dict[str, Any]) -> list[int]:
    """Placeholder numbers in order of first appearance (reading order of the message)."""
    seen: list[int] = []
    for _, _, value in text_fields(content):
        for m in PLACEHOLDER_RE.findall(value):
            if int(m) not in seen:
                seen.append(int(m))
    return seen


def render_string(value: str, values: list[str], *, url: bool = False) -> str:
    def replace(match: re.Match) -> str:
        n = int(match.group(1))
        if n < 1 or n > len(values):
            raise RenderError(f"No value for placeholder {{{{{n}}}}} ({len(values)} given).")
        text = str(values[n - 1])
        return quote(text, safe=_URL_SAFE) if url else text

    rendered = PLACEHOLDER_RE.sub(replace, value)
    if url and "{{" in value and _host(rendered) != _host(value.split("{{", 1)[0]):
        raise RenderError(f"A placeholder value would change the host of the link {value}.")
    return rendered


def _host(url: str) -> str:
    """The authority of `url`, also after percent-decoding (what a browser may do)."""
    try:
        plain, decoded = urlsplit(url).netloc.lower(), urlsplit(unquote(url)).netloc.lower()
    except ValueError:
        return "\x00invalid"
    return plain if plain == decoded else "\x00ambiguous"


def render_content(content: dict[str, Any], values: list[str]) -> dict[str, Any]:
    """Return a copy of content with every `{{n}}` replaced by values[n-1].

    Values put into URLs are percent-encoded (spaces, non-ASCII); text is inserted as is. Raises
    RenderError when a placeholder has no value. The input is not modified.
    """
    rendered = _copy(content)
    for path, kind, value in list(text_fields(rendered)):
        if "{{" in value:
            _set_path(rendered, path, render_string(value, values, url=(kind == "url")))
    return rendered


def _copy(obj: Any) -> Any:
    # Content is plain JSON: copying dicts and lists is enough (several times faster than deepcopy).
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    return obj


def _set_path(obj: Any, path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    obj[parts[-1]] = value


def tracked_urls(content: dict[str, Any]) -> list[str]:
    """Paths of OPEN_URL suggestions marked "tracked" (campaigns wrap these in short links)."""
    paths = []
    for path, kind, _ in text_fields(content):
        if kind == "url" and ".suggestions." in f".{path}":
            suggestion = _get_path(content, path.rsplit(".", 1)[0])
            if suggestion.get("url_kind") == URL_TRACKED:
                paths.append(path)
    return paths


def _get_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj
