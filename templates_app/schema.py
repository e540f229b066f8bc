"""The JSON Schema of template `content`, one branch per type, built from `templates_app.limits` (the
numbers and choices that validate it), so the OpenAPI schema and the validator cannot drift apart.

`content_schema()` is what the API documents (a `oneOf` told apart by `type`); `structure_errors()` checks
a request's content's JSON types against it before the limits run (a wrong type is a 400 naming its path;
lengths, counts and choices are left to the limits' own messages).
The limits that need more than a schema (placeholder order, URLs, the message's size) stay in limits.py.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema

from providers import content as C

from . import limits
from .rendering import URL_KINDS


def _text(max_length: int, description: str = "") -> dict:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if description:
        schema["description"] = description
    return schema


def _choice(values, description: str = "") -> dict:
    schema: dict[str, Any] = {"type": "string", "enum": list(values)}
    if description:
        schema["description"] = description
    return schema


def _suggestions(maximum: int) -> dict:
    suggestion = {
        "type": "object",
        "required": ["type", "text"],
        "properties": {
            "type": _choice(C.SUGGESTION_TYPES),
            "text": _text(limits.LABEL_MAX, "The button label: letters, digits, spaces, plain punctuation."),
            "postback_data": _text(limits.POSTBACK_MAX, "Default: the label."),
            "url": _text(limits.URL_MAX, "OPEN_URL: http(s) URL; a {{n}} suffix when url_kind is dynamic."),
            "url_kind": _choice(URL_KINDS),
            "phone_number": _text(32, "DIAL_PHONE: E.164."),
        },
    }
    return {"type": "array", "nullable": True, "maxItems": maximum, "items": suggestion}


def _media(heights) -> dict:
    return {
        "type": "object",
        "required": ["url", "content_type"],
        "properties": {
            "url": _text(limits.URL_MAX, "http(s) URL of the image or video."),
            "height": _choice(heights),
            "thumbnail_url": _text(limits.URL_MAX, "Required for a video."),
            "content_type": _choice(limits.MEDIA_TYPES),
        },
    }


def _card(*, carousel: bool) -> dict:
    return {
        "type": "object",
        "description": "A title, a description or media (at least one).",
        "properties": {
            "title": _text(limits.TITLE_MAX),
            "description": _text(limits.CAROUSEL_DESCRIPTION_MAX if carousel else limits.DESCRIPTION_MAX),
            "media": {**_media(limits.CAROUSEL_HEIGHTS if carousel else limits.HEIGHTS), "nullable": True},
            "suggestions": _suggestions(limits.CARD_BUTTONS_MAX if carousel else limits.BUTTONS_MAX),
        },
    }


def _branch(ctype: str, required: list[str], properties: dict, description: str) -> dict:
    return {
        "type": "object",
        "title": ctype,
        "description": description,
        "required": ["type", *required],
        "properties": {"type": {"type": "string", "enum": [ctype]}, **properties},
    }


@cache
def content_schema() -> dict:
    """Template content: TEXT, RICH_CARD, CAROUSEL or MEDIA, with {{n}} placeholders in text fields."""
    return {
        "oneOf": [
            _branch(
                C.TEXT,
                ["text"],
                {"text": _text(limits.TEXT_MAX), "suggestions": _suggestions(limits.BUTTONS_MAX)},
                f"Text with up to {limits.BUTTONS_MAX} buttons.",
            ),
            _branch(
                C.RICH_CARD,
                ["card"],
                {
                    "orientation": _choice(limits.ORIENTATIONS),
                    "image_alignment": {"type": "string", "enum": [*limits.ALIGNMENTS, ""], "nullable": True},
                    "card": _card(carousel=False),
                },
                "One rich card.",
            ),
            _branch(
                C.CAROUSEL,
                ["cards"],
                {
                    "card_width": _choice(limits.CARD_WIDTHS),
                    "cards": {
                        "type": "array",
                        "minItems": limits.CAROUSEL_MIN,
                        "maxItems": limits.CAROUSEL_MAX,
                        "items": _card(carousel=True),
                    },
                },
                f"{limits.CAROUSEL_MIN} to {limits.CAROUSEL_MAX} cards.",
            ),
            _branch(
                C.MEDIA,
                ["media"],
                {"media": _media(limits.HEIGHTS), "suggestions": _suggestions(limits.BUTTONS_MAX)},
                f"An image or a video with up to {limits.BUTTONS_MAX} buttons.",
            ),
        ],
        "description": "Neutral content (providers.content) by `type`; {{n}} placeholders in text, titles, "
        "descriptions and URL suffixes, each with a sample value.",
    }


TYPE_NAMES = {"string": "a string", "array": "a list", "object": "an object", "boolean": "true or false"}


def _json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's `nullable` as JSON Schema's null type (for jsonschema)."""
    if isinstance(schema, list):
        return [_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _json_schema(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable"):
        out["type"] = [schema["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def structure_errors(content: Any) -> dict[str, list[str]]:
    """Type and shape problems of `content` by path ("cards.1.title"), or {} when it fits the schema."""
    if not isinstance(content, dict):
        return {"": ["Content must be an object."]}
    branches = {b["properties"]["type"]["enum"][0]: b for b in content_schema()["oneOf"]}
    ctype = content.get("type")
    branch = branches.get(ctype) if isinstance(ctype, str) else None
    if branch is None:
        return {"type": [f"Choose one of {', '.join(branches)}."]}
    errors: dict[str, list[str]] = {}
    for error in jsonschema.Draft202012Validator(_json_schema(branch)).iter_errors(content):
        if error.validator != "type":
            continue  # lengths, counts, choices and required fields: limits.py says it, by the same path
        path = ".".join(str(p) for p in error.absolute_path)
        expected = error.validator_value
        expected = expected[0] if isinstance(expected, list) else expected
        errors.setdefault(path, []).append(f"Give {TYPE_NAMES.get(expected, expected)}.")
    return errors
