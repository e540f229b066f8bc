"""The Generic RCS send contract (WIRE.md 1.1, 1.2 and the limits of section 5), checked field by field."""

from __future__ import annotations

import re
from typing import Any

from .checks import (
    DIGITS,
    E164,
    IMAGE_TYPES,
    MAX_CARDS,
    MAX_CAROUSEL_DESCRIPTION,
    MAX_DESCRIPTION,
    MAX_MSG_ID,
    MAX_POSTBACK,
    MAX_SUGGESTIONS,
    MAX_TEXT,
    MAX_TITLE,
    MIN_CARDS,
    VIDEO_TYPES,
    Problems,
    media_type,
)
from .delivery import Accepted, Suggestion

CONTENT_TYPES = ("TEXT", "RICH_CARD", "CAROUSEL", "MEDIA")
SUGGESTION_TYPES = ("REPLY", "OPEN_URL", "DIAL_PHONE")
HEIGHTS = ("SHORT", "MEDIUM", "TALL")
TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def validate_send(body: Any) -> tuple[Problems, Accepted | None]:
    """Check one Generic RCS send body; return the problems and, when there are none, what to deliver."""
    p = Problems()
    if not isinstance(body, dict):
        p.add("", "the body must be a JSON object")
        return p, None
    version = body.get("payloadVersion")
    if version is None:
        p.add("payloadVersion", "required; the number 0.1")
    elif isinstance(version, bool) or not isinstance(version, int | float) or version != 0.1:
        p.add("payloadVersion", f"must be the number 0.1 (got {version!r})")
    msg_id = p.text(body, "msgId", "msgId", max_len=MAX_MSG_ID)
    to = p.phone(body, "to", "to")
    callback_url = p.url(body, "callbackURL", "callbackURL")
    suggestions: list[Suggestion] = []
    rcs = p.obj(body, "rcsContent", "rcsContent")
    sender = ""
    if rcs is not None:
        sender = p.text(rcs, "senderId", "rcsContent.senderId") or ""
        _params(p, rcs, "rcsContent.customParam")
        content = p.obj(rcs, "content", "rcsContent.content")
        if content is not None:
            suggestions = _content(p, content, "rcsContent.content")
        template = p.obj(rcs, "template", "rcsContent.template", required=False)
        if template is not None:
            name = p.text(template, "name", "rcsContent.template.name", max_len=20)
            if name and not TEMPLATE_NAME.match(name):
                p.add("rcsContent.template.name", "letters, digits and _ only")
            p.text(template, "language", "rcsContent.template.language", required=False)
            variables = p.lst(template, "variables", "rcsContent.template.variables")
            for i, value in enumerate(variables or []):
                if not isinstance(value, str):
                    p.add(f"rcsContent.template.variables[{i}]", "must be a string")
    sms = p.obj(body, "smsContent", "smsContent", required=False)
    if sms is not None:
        _sms(p, sms, india=isinstance(to, str) and to.startswith("+91"))
    if p:
        return p, None
    return p, Accepted(
        api="generic",
        msg_id=msg_id,
        to=to,
        sender=sender,
        callback_url=callback_url,
        sms=sms is not None,
        suggestions=suggestions,
    )


def sender_of(body: Any) -> str:
    """The sender ID a request is counted under in the stats (best effort, before validation)."""
    if isinstance(body, dict):
        rcs = body.get("rcsContent")
        if isinstance(rcs, dict) and isinstance(rcs.get("senderId"), str):
            return rcs["senderId"]
    return ""


def _params(p: Problems, data: dict, path: str) -> None:
    params = p.lst(data, "customParam", path)
    for i, param in enumerate(params or []):
        where = f"{path}[{i}]"
        if not isinstance(param, dict):
            p.add(where, "must be an object {name, value}")
            continue
        p.text(param, "name", f"{where}.name")
        value = param.get("value")
        if value is not None and not isinstance(value, str | int | float):
            p.add(f"{where}.value", "must be a string")


def _sms(p: Problems, sms: dict, *, india: bool) -> None:
    p.text(sms, "body", "smsContent.body")
    names = {
        "senderId": "sender ID (header)",
        "dltTemplateId": "DLT template ID",
        "principalEntityId": "Principal Entity ID",
    }
    for key, name in names.items():
        if india and sms.get(key) in (None, ""):
            p.add(f"smsContent.{key}", f"required for Indian (+91) numbers: the {name}")
            continue
        value = p.text(sms, key, f"smsContent.{key}", required=False)
        if value is not None and key != "senderId" and not DIGITS.match(value):
            p.add(f"smsContent.{key}", f"must be digits only (got {value!r})")
    _params(p, sms, "smsContent.customParam")


def _content(p: Problems, content: dict, path: str) -> list[Suggestion]:
    kind = p.choice(content, "type", f"{path}.type", CONTENT_TYPES)
    found: list[Suggestion] = []
    if kind == "TEXT":
        p.text(content, "text", f"{path}.text", max_len=MAX_TEXT)
    elif kind == "RICH_CARD":
        orientation = p.choice(
            content, "cardOrientation", f"{path}.cardOrientation", ("VERTICAL", "HORIZONTAL")
        )
        p.choice(
            content,
            "thumbnailImageAlignment",
            f"{path}.thumbnailImageAlignment",
            ("LEFT", "RIGHT"),
            required=orientation == "HORIZONTAL",
        )
        card = p.obj(content, "card", f"{path}.card")
        if card is not None:
            found += _card(p, card, f"{path}.card", vertical=orientation != "HORIZONTAL", carousel=False)
    elif kind == "CAROUSEL":
        p.choice(content, "cardWidth", f"{path}.cardWidth", ("SMALL", "MEDIUM"))
        cards = p.lst(content, "cards", f"{path}.cards", required=True)
        if cards is not None and not MIN_CARDS <= len(cards) <= MAX_CARDS:
            p.add(f"{path}.cards", f"a carousel has {MIN_CARDS} to {MAX_CARDS} cards (got {len(cards)})")
        for i, card in enumerate(cards or []):
            if not isinstance(card, dict):
                p.add(f"{path}.cards[{i}]", "must be an object")
                continue
            found += _card(p, card, f"{path}.cards[{i}]", vertical=True, carousel=True)
    elif kind == "MEDIA":
        media = p.obj(content, "media", f"{path}.media")
        if media is not None:
            _media(p, media, f"{path}.media", height="none")
    found += _suggestions(p, content, f"{path}.suggestions")
    return found


def _card(p: Problems, card: dict, path: str, *, vertical: bool, carousel: bool) -> list[Suggestion]:
    title = p.text(card, "title", f"{path}.title", required=False, max_len=MAX_TITLE)
    limit = MAX_CAROUSEL_DESCRIPTION if carousel else MAX_DESCRIPTION
    description = p.text(card, "description", f"{path}.description", required=False, max_len=limit)
    media = p.obj(card, "media", f"{path}.media", required=False)
    if media is not None:
        _media(p, media, f"{path}.media", height="carousel" if carousel else "card" if vertical else "free")
    if not (title or description or media):
        p.add(path, "a card needs at least a title, a description or media")
    return _suggestions(p, card, f"{path}.suggestions")


def _media(p: Problems, media: dict, path: str, *, height: str) -> None:
    url = p.url(media, "url", f"{path}.url")
    thumbnail = p.url(media, "thumbnailUrl", f"{path}.thumbnailUrl", required=False)
    declared = p.text(media, "contentType", f"{path}.contentType", required=False)
    kind = media_type(url or "", declared)
    if declared is not None and kind not in IMAGE_TYPES | VIDEO_TYPES:
        p.add(
            f"{path}.contentType",
            f"unsupported media type {declared!r} (images: jpeg jpg gif png; "
            "videos: h263 m4v mp4 mpeg mpeg4 webm)",
        )
    if kind in VIDEO_TYPES and not thumbnail:
        p.add(f"{path}.thumbnailUrl", "required for video media")
    if height == "none":
        return
    value = p.choice(media, "height", f"{path}.height", HEIGHTS, required=height in ("card", "carousel"))
    if height == "carousel" and value == "TALL":
        p.add(f"{path}.height", "TALL media is not allowed in carousels (SHORT or MEDIUM)")


def _suggestions(p: Problems, data: dict, path: str) -> list[Suggestion]:
    items = p.lst(data, "suggestions", path)
    if not items:
        return []
    if len(items) > MAX_SUGGESTIONS:
        p.add(path, f"at most {MAX_SUGGESTIONS} suggestions (got {len(items)})")
    found = []
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            p.add(where, "must be an object {type, text, postbackData}")
            continue
        kind = p.choice(item, "type", f"{where}.type", SUGGESTION_TYPES)
        label = p.label(item, "text", f"{where}.text")
        postback = p.text(
            item, "postbackData", f"{where}.postbackData", required=kind == "REPLY", max_len=MAX_POSTBACK
        )
        url = ""
        if kind == "OPEN_URL":
            url = p.url(item, "url", f"{where}.url") or ""
        elif kind == "DIAL_PHONE":
            number = item.get("phoneNumber")
            if not isinstance(number, str) or not E164.match(number):
                p.add(f"{where}.phoneNumber", f"must be an E.164 number with a leading + (got {number!r})")
        if kind and label:
            found.append(Suggestion(kind, label, postback or "", url))
    return found
