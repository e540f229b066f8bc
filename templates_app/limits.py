"""Every limit of WIRE.md section 5 for template content, the stricter of the dashboard and RBM columns.

`validate_content(content)` returns `(errors, warnings)`, each `{path: [message, ...]}` where path is
the dotted location in the neutral content ("text", "cards.1.suggestions.0.text", "" for the whole
message). Forms show each message next to the field with that path.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from providers import content as C
from rcsconnect.phone import is_e164

from .rendering import (
    PLACEHOLDER_LIKE_RE,
    PLACEHOLDER_RE,
    URL_DYNAMIC,
    URL_KINDS,
    URL_STATIC,
    placeholders_in_order,
    text_fields,
)

# -- the numbers (WIRE.md 5; "dashboard" column unless RBM is stricter) -------------------------------
NAME_MAX = 20
NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
TEXT_MAX = 1000  # dashboard 1000, RBM 3072
TITLE_MAX = 200
DESCRIPTION_MAX = 2000
CAROUSEL_DESCRIPTION_MAX = 1000
BUTTONS_MAX = 4  # per message (RBM allows 11 chips; the dashboard 4)
CARD_BUTTONS_MAX = 4  # per carousel card
BUTTONS_WARN = 3  # warn above 3 per message
CARD_BUTTONS_WARN = 2  # ... and above 2 per carousel card
LABEL_MAX = 25
POSTBACK_MAX = 2048
CAROUSEL_MIN, CAROUSEL_MAX = 2, 10
MESSAGE_MAX_BYTES = 250 * 1024
HEIGHTS = ("SHORT", "MEDIUM", "TALL")
CAROUSEL_HEIGHTS = ("SHORT", "MEDIUM")
ORIENTATIONS = ("VERTICAL", "HORIZONTAL")
ALIGNMENTS = ("LEFT", "RIGHT")
CARD_WIDTHS = ("SMALL", "MEDIUM")
IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/gif", "image/png")
VIDEO_TYPES = ("video/h263", "video/m4v", "video/mp4", "video/mpeg", "video/mpeg4", "video/webm")
MEDIA_TYPES = IMAGE_TYPES + VIDEO_TYPES
URL_MAX = 2048

# Suggestion labels: letters, digits, spaces and plain punctuation. "No special characters" (dashboard):
# symbols such as < > { } [ ] | \ ^ ~ * _ # @ $ % ` = and emoji are refused.
LABEL_RE = re.compile(r"^(?:[^\W_]|[ .,!?'\"&()/:+\-])*$")


def name_errors(name: str) -> list[str]:
    if not name:
        return ["Enter a name."]
    errors = []
    if len(name) > NAME_MAX:
        errors.append(f"At most {NAME_MAX} characters ({len(name)} given).")
    if not NAME_RE.match(name):
        errors.append("Use only letters, digits and underscores.")
    return errors


class _Collector:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.warnings: dict[str, list[str]] = {}

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)

    def warn(self, path: str, message: str) -> None:
        self.warnings.setdefault(path, []).append(message)

    def max_len(self, path: str, value: str, limit: int, what: str) -> None:
        if len(value) > limit:
            self.error(path, f"{what} is {len(value)} characters; the limit is {limit}.")


def validate_content(
    content: dict[str, Any], *, sample_values: list[str] | None = None
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Check content against every limit. With sample_values, also check there is one per placeholder."""
    out = _Collector()
    if not isinstance(content, dict):
        out.error("", "Content must be an object.")
        return out.errors, out.warnings
    ctype = content.get("type")
    if ctype == C.TEXT:
        text = content.get("text") or ""
        if not text.strip():
            out.error("text", "Enter the message text.")
        out.max_len("text", text, TEXT_MAX, "Text")
        _suggestions(out, content.get("suggestions"), "suggestions", BUTTONS_MAX, BUTTONS_WARN, "message")
    elif ctype == C.RICH_CARD:
        orientation = content.get("orientation") or "VERTICAL"
        if orientation not in ORIENTATIONS:
            out.error("orientation", "Choose vertical or horizontal.")
        if content.get("image_alignment") not in (None, "", *ALIGNMENTS):
            out.error("image_alignment", "Choose left or right.")
        card = content.get("card")
        if not isinstance(card, dict):
            out.error("card", "A rich card needs a card.")
        else:
            _card(out, card, "card", carousel=False, horizontal=orientation == "HORIZONTAL")
    elif ctype == C.CAROUSEL:
        if (content.get("card_width") or "MEDIUM") not in CARD_WIDTHS:
            out.error("card_width", "Choose small or medium.")
        cards = content.get("cards")
        cards = cards if isinstance(cards, list) else []
        if not CAROUSEL_MIN <= len(cards) <= CAROUSEL_MAX:
            out.error("cards", f"A carousel has {CAROUSEL_MIN} to {CAROUSEL_MAX} cards ({len(cards)} given).")
        for i, card in enumerate(cards):
            if isinstance(card, dict):
                _card(out, card, f"cards.{i}", carousel=True, horizontal=False)
            else:
                out.error(f"cards.{i}", "A card must be an object.")
    elif ctype == C.MEDIA:
        media = content.get("media")
        if not isinstance(media, dict) or not (media.get("url") or "").strip():
            out.error("media.url", "Enter the media URL.")
        else:
            _media(out, media, "media", carousel=False, horizontal=False)
        _suggestions(out, content.get("suggestions"), "suggestions", BUTTONS_MAX, BUTTONS_WARN, "message")
    else:
        out.error("type", f"Choose one of {', '.join(C.CONTENT_TYPES)}.")
        return out.errors, out.warnings

    _placeholders(out, content, sample_values)
    size = message_size(content)
    if size > MESSAGE_MAX_BYTES:
        out.error("", f"The whole message is {size // 1024} KB; the limit is {MESSAGE_MAX_BYTES // 1024} KB.")
    return out.errors, out.warnings


def message_size(content: dict[str, Any]) -> int:
    """Bytes of the content as compact UTF-8 JSON (close to what a vendor receives)."""
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode())


def _card(out: _Collector, card: dict, path: str, *, carousel: bool, horizontal: bool) -> None:
    title, description = card.get("title") or "", card.get("description") or ""
    media = card.get("media") or None
    if not (title.strip() or description.strip() or (media and media.get("url"))):
        out.error(f"{path}.title", "A card needs a title, a description or media.")
    out.max_len(f"{path}.title", title, TITLE_MAX, "Title")
    limit = CAROUSEL_DESCRIPTION_MAX if carousel else DESCRIPTION_MAX
    out.max_len(f"{path}.description", description, limit, "Description")
    if media:
        if not (media.get("url") or "").strip():
            if media.get("thumbnail_url"):
                out.error(f"{path}.media.url", "Enter the media URL (or remove the thumbnail).")
        else:
            _media(out, media, f"{path}.media", carousel=carousel, horizontal=horizontal)
    if carousel:
        _suggestions(
            out, card.get("suggestions"), f"{path}.suggestions", CARD_BUTTONS_MAX, CARD_BUTTONS_WARN, "card"
        )
    else:
        _suggestions(
            out, card.get("suggestions"), f"{path}.suggestions", BUTTONS_MAX, BUTTONS_WARN, "message"
        )


def _media(out: _Collector, media: dict, path: str, *, carousel: bool, horizontal: bool) -> None:
    _url(out, f"{path}.url", media.get("url") or "", allow_suffix=True)
    height = media.get("height") or "MEDIUM"
    if height not in HEIGHTS:
        out.error(f"{path}.height", "Choose short, medium or tall.")
    elif carousel and height not in CAROUSEL_HEIGHTS:
        out.error(f"{path}.height", "Tall media is not allowed in carousels; choose short or medium.")
    elif horizontal and media.get("height") and height != "MEDIUM":
        out.warn(f"{path}.height", "Media height is ignored on horizontal cards.")
    ctype = (media.get("content_type") or "").lower()
    if not ctype:
        out.error(f"{path}.content_type", "Choose the media type.")
    elif ctype not in MEDIA_TYPES:
        out.error(
            f"{path}.content_type", f"Unsupported media type {ctype}; use one of {', '.join(MEDIA_TYPES)}."
        )
    thumbnail = media.get("thumbnail_url") or ""
    if thumbnail:
        _url(out, f"{path}.thumbnail_url", thumbnail, allow_suffix=True)
    elif ctype in VIDEO_TYPES:
        out.error(f"{path}.thumbnail_url", "A video needs a thumbnail URL.")


def _suggestions(
    out: _Collector, suggestions: Any, path: str, maximum: int, warn_above: int, where: str
) -> None:
    if suggestions in (None, ""):
        return
    if not isinstance(suggestions, list):
        out.error(path, "Suggestions must be a list.")
        return
    if len(suggestions) > maximum:
        out.error(path, f"At most {maximum} buttons per {where} ({len(suggestions)} given).")
    elif len(suggestions) > warn_above:
        out.warn(path, f"More than {warn_above} buttons per {where}: some phones may hide the extra ones.")
    for i, suggestion in enumerate(suggestions):
        _suggestion(out, suggestion if isinstance(suggestion, dict) else {}, f"{path}.{i}")


def _suggestion(out: _Collector, s: dict, path: str) -> None:
    stype = s.get("type")
    if stype not in C.SUGGESTION_TYPES:
        out.error(f"{path}.type", "Choose reply, open URL or dial.")
    label = s.get("text") or ""
    if not label.strip():
        out.error(f"{path}.text", "Enter the button label.")
    out.max_len(f"{path}.text", label, LABEL_MAX, "Label")
    if label and not LABEL_RE.match(label):
        out.error(f"{path}.text", "Labels take letters, digits, spaces and . , ! ? ' \" & ( ) / : + - only.")
    out.max_len(f"{path}.postback_data", s.get("postback_data") or "", POSTBACK_MAX, "Postback data")
    if stype == C.OPEN_URL:
        url_kind = s.get("url_kind") or URL_STATIC
        if url_kind not in URL_KINDS:
            out.error(f"{path}.url_kind", "Choose static, dynamic or tracked.")
        url = s.get("url") or ""
        _url(out, f"{path}.url", url, allow_suffix=url_kind != URL_STATIC)
        has_placeholder = bool(PLACEHOLDER_RE.search(url))
        if url_kind == URL_STATIC and has_placeholder:
            out.error(f"{path}.url", "A static URL has no placeholder; choose dynamic for a {{n}} suffix.")
        if url_kind == URL_DYNAMIC and url and not has_placeholder:
            out.error(f"{path}.url", "A dynamic URL ends in a placeholder suffix such as {{1}}.")
    elif stype == C.DIAL_PHONE:
        number = s.get("phone_number") or ""
        if not number:
            out.error(f"{path}.phone_number", "Enter the phone number to dial.")
        elif not is_e164(number):
            out.error(f"{path}.phone_number", "Enter a valid number in E.164 format, e.g. +14155550123.")


def _url(out: _Collector, path: str, url: str, *, allow_suffix: bool) -> None:
    if not url.strip():
        out.error(path, "Enter a URL.")
        return
    if len(url) > URL_MAX:
        out.error(path, f"URL is {len(url)} characters; the limit is {URL_MAX}.")
    base = url
    match = PLACEHOLDER_RE.search(url)
    if match:
        if not allow_suffix:
            return  # the caller reports the placeholder
        if PLACEHOLDER_RE.sub("", url[match.start() :]).strip():
            out.error(path, "Placeholders are allowed only as the URL's suffix (at its end).")
        base = url[: match.start()]
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in base:
        out.error(path, "Enter a full http:// or https:// URL.")


def _placeholders(out: _Collector, content: dict, sample_values: list[str] | None) -> None:
    # Placeholders are allowed only in the fields text_fields() yields; anything else is an error.
    allowed_paths = set()
    for fpath, _, value in text_fields(content):
        allowed_paths.add(fpath)
        for bad in PLACEHOLDER_LIKE_RE.findall(value):
            if not PLACEHOLDER_RE.fullmatch(bad):
                out.error(fpath, f"{bad} is not a placeholder; use {{{{1}}}}, {{{{2}}}} ...")
    for fpath, value in _all_strings(content, ""):
        if fpath not in allowed_paths and "{{" in value:
            out.error(
                fpath, "Placeholders are not allowed here (only in text, titles, descriptions and URLs)."
            )
    order = placeholders_in_order(content)
    if not order:
        return
    expected = list(range(1, len(order) + 1))
    if min(order) < 1:
        out.error("", "Placeholders start at {{1}}.")
    elif sorted(order) != expected:
        missing = sorted(set(range(1, max(order) + 1)) - set(order))
        out.error("", "Number placeholders from {{1}} without gaps (missing " + _names(missing) + ").")
    elif order != expected:
        out.error(
            "", f"Number placeholders in order of appearance: {_names(order)} should be {_names(expected)}."
        )
    if sample_values is not None:
        for n in sorted(order):
            if n > len(sample_values) or not str(sample_values[n - 1]).strip():
                out.error(f"samples.{n - 1}", f"Enter a sample value for {{{{{n}}}}}.")


def _names(numbers: list[int]) -> str:
    return ", ".join(f"{{{{{n}}}}}" for n in numbers)


def _all_strings(obj: Any, path: str):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _all_strings(value, f"{path}.{key}" if path else key)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _all_strings(value, f"{path}.{i}" if path else str(i))
    elif isinstance(obj, str):
        yield path, obj
