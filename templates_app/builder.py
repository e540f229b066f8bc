"""The template builder form: flat field names <-> neutral content, and bound fields for the page.

Content fields are named by their dotted path under the format, e.g. `c.CAROUSEL.cards.1.title` or
`c.TEXT.suggestions.0.url`, so an error from `limits.validate_content` ("cards.1.title") lands next to
the field with that name. Sample values are `samples.0`, `samples.1` ... ({{1}}, {{2}} ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from providers import content as C

from .rendering import URL_STATIC

PREFIX = "c"


def blank_suggestion() -> dict[str, Any]:
    return {
        "type": C.REPLY,
        "text": "",
        "postback_data": "",
        "url": "",
        "url_kind": URL_STATIC,
        "phone_number": "",
    }


def blank_media() -> dict[str, Any]:
    return {"url": "", "height": "MEDIUM", "thumbnail_url": "", "content_type": "image/jpeg"}


def blank_card() -> dict[str, Any]:
    return {"title": "", "description": "", "media": blank_media(), "suggestions": []}


def skeleton(fmt: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    """Content of format fmt with every field present (for the form), filled from content if given."""
    content = content or {}
    suggestions = [_full_suggestion(s) for s in content.get("suggestions") or []]
    if fmt == C.TEXT:
        return {"type": fmt, "text": content.get("text", ""), "suggestions": suggestions}
    if fmt == C.RICH_CARD:
        return {
            "type": fmt,
            "orientation": content.get("orientation") or "VERTICAL",
            "image_alignment": content.get("image_alignment") or "LEFT",
            "card": _full_card(content.get("card") or {}),
        }
    if fmt == C.CAROUSEL:
        cards = [_full_card(c or {}) for c in content.get("cards") or []] or [blank_card(), blank_card()]
        return {"type": fmt, "card_width": content.get("card_width") or "MEDIUM", "cards": cards}
    return {
        "type": C.MEDIA,
        "media": {**blank_media(), **(content.get("media") or {})},
        "suggestions": suggestions,
    }


def _full_card(card: dict) -> dict:
    return {
        "title": card.get("title", ""),
        "description": card.get("description", ""),
        "media": {**blank_media(), **(card.get("media") or {})},
        "suggestions": [_full_suggestion(s) for s in card.get("suggestions") or []],
    }


def _full_suggestion(s: dict) -> dict:
    return {**blank_suggestion(), **(s or {})}


# -- parsing the POST ----------------------------------------------------------------------------------
def _nest(flat: dict[str, str]) -> Any:
    root: dict = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(re.fullmatch(r"\d+", k) for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


def parse_content(data: QueryDict | dict, fmt: str) -> dict[str, Any]:
    """The neutral content for format fmt from the builder's POST data."""
    head = f"{PREFIX}.{fmt}."
    raw = _nest({k[len(head) :]: data.get(k, "") for k in data if k.startswith(head)})
    raw = raw if isinstance(raw, dict) else {}
    if fmt == C.TEXT:
        return {"type": fmt, "text": raw.get("text", ""), "suggestions": _suggestions(raw.get("suggestions"))}
    if fmt == C.RICH_CARD:
        content = {
            "type": fmt,
            "orientation": raw.get("orientation") or "VERTICAL",
            "card": _card(raw.get("card")),
        }
        if content["orientation"] == "HORIZONTAL":
            content["image_alignment"] = raw.get("image_alignment") or "LEFT"
        return content
    if fmt == C.CAROUSEL:
        cards = raw.get("cards")
        cards = [_card(c) for c in cards] if isinstance(cards, list) else []
        return {"type": fmt, "card_width": raw.get("card_width") or "MEDIUM", "cards": cards}
    if fmt == C.MEDIA:
        return {
            "type": fmt,
            "media": _media(raw.get("media")) or {},
            "suggestions": _suggestions(raw.get("suggestions")),
        }
    return {"type": fmt}


def _card(raw: Any) -> dict:
    raw = raw if isinstance(raw, dict) else {}
    return {
        "title": raw.get("title", ""),
        "description": raw.get("description", ""),
        "media": _media(raw.get("media")),
        "suggestions": _suggestions(raw.get("suggestions")),
    }


def _media(raw: Any) -> dict | None:
    raw = raw if isinstance(raw, dict) else {}
    url, thumbnail = raw.get("url", "").strip(), raw.get("thumbnail_url", "").strip()
    if not url and not thumbnail:
        return None
    return {
        "url": url,
        "height": raw.get("height") or "MEDIUM",
        "thumbnail_url": thumbnail,
        "content_type": raw.get("content_type", ""),
    }


def _suggestions(raw: Any) -> list[dict]:
    if not isinstance(raw, list):
        return []
    out = []
    for item in raw:
        item = item if isinstance(item, dict) else {}
        stype = item.get("type") or C.REPLY
        label = item.get("text", "").strip()
        s = {"type": stype, "text": label, "postback_data": item.get("postback_data", "").strip()}
        if stype == C.OPEN_URL:
            s["url"] = item.get("url", "").strip()
            s["url_kind"] = item.get("url_kind") or URL_STATIC
        elif stype == C.DIAL_PHONE:
            s["phone_number"] = item.get("phone_number", "").strip()
        out.append(s)
    return out


def parse_samples(data: QueryDict | dict) -> list[str]:
    found = {int(k.split(".")[1]): data.get(k, "") for k in data if re.fullmatch(r"samples\.\d+", k)}
    return [found.get(i, "") for i in range(max(found) + 1)] if found else []


# -- binding for the page --------------------------------------------------------------------------------
@dataclass
class Leaf:
    name: str
    value: Any
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class BoundDict(dict):
    name = ""
    errors: list[str] = []
    warnings: list[str] = []


class BoundList(list):
    name = ""
    errors: list[str] = []
    warnings: list[str] = []


def bind(value: Any, path: str, errors: dict, warnings: dict) -> Any:
    """Wrap content so the page can read `.name`, `.value`, `.errors` of every field by attribute."""
    if isinstance(value, dict):
        bound: Any = BoundDict({k: bind(v, f"{path}.{k}", errors, warnings) for k, v in value.items()})
    elif isinstance(value, list):
        bound = BoundList(bind(v, f"{path}.{i}", errors, warnings) for i, v in enumerate(value))
    else:
        return Leaf(path, value, errors.get(path, []), warnings.get(path, []))
    bound.name, bound.errors, bound.warnings = path, errors.get(path, []), warnings.get(path, [])
    return bound


def bind_all(fmt: str, content: dict, errors: dict, warnings: dict) -> dict[str, Any]:
    """Bound skeletons for every format (the page holds all four; JS shows the chosen one)."""
    bound = {}
    for each in C.CONTENT_TYPES:
        data = skeleton(each, content if each == fmt else None)
        prefix = f"{PREFIX}.{each}"
        own_errors = {f"{prefix}.{k}" if k else prefix: v for k, v in errors.items()} if each == fmt else {}
        own_warnings = (
            {f"{prefix}.{k}" if k else prefix: v for k, v in warnings.items()} if each == fmt else {}
        )
        bound[each] = bind(data, prefix, own_errors, own_warnings)
    return bound


def blank_bound() -> dict[str, Any]:
    """Bound blank items for the page's <template> elements (JS renames fields on insert)."""
    return {
        "suggestion": bind(blank_suggestion(), "__new__", {}, {}),
        "card": bind(blank_card(), "__new__", {}, {}),
    }
