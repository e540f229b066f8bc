"""Small validation helpers shared by the Generic RCS and JioCX contract checks (WIRE.md section 5)."""

from __future__ import annotations

import re
from typing import Any

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MSISDN = re.compile(r"^[1-9]\d{6,14}$")  # E.164 without the "+" (JioCX contacts)
DIGITS = re.compile(r"^\d+$")
PLACEHOLDER = re.compile(r"\{\{\s*\d+\s*\}\}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
URL = re.compile(r"^https?://[^\s/?#]+\S*$")

MAX_MSG_ID = 60
MAX_TEXT = 1000  # dashboard limit; RBM allows 3072 (WIRE.md 5: validate against the stricter column)
MAX_TITLE = 200
MAX_DESCRIPTION = 2000
MAX_CAROUSEL_DESCRIPTION = 1000
MAX_SUGGESTIONS = 4  # per message and per card
MAX_LABEL = 25
MAX_POSTBACK = 2048
MIN_CARDS, MAX_CARDS = 2, 10
MAX_BODY_BYTES = 250 * 1024
IMAGE_TYPES = {"image/jpeg", "image/jpg", "image/gif", "image/png"}
VIDEO_TYPES = {"video/h263", "video/m4v", "video/mp4", "video/mpeg", "video/mpeg4", "video/webm"}
_EXTENSIONS = {
    "jpeg": "image/jpeg",
    "jpg": "image/jpg",
    "gif": "image/gif",
    "png": "image/png",
    "h263": "video/h263",
    "m4v": "video/m4v",
    "mp4": "video/mp4",
    "mpeg": "video/mpeg",
    "mpeg4": "video/mpeg4",
    "webm": "video/webm",
}


class Problems:
    """Collects (field path, reason) pairs; the simulator answers 400 listing them all."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: str, reason: str) -> None:
        self.items.append({"field": path, "reason": reason})

    def __bool__(self) -> bool:
        return bool(self.items)

    # -- typed getters: return the value when it is right, else record why and return None --------
    def obj(self, data: Any, key: str, path: str, *, required: bool = True) -> dict | None:
        value = data.get(key) if isinstance(data, dict) else None
        if value is None:
            if required:
                self.add(path, "required object is missing")
            return None
        if not isinstance(value, dict):
            self.add(path, f"must be an object, not {_type(value)}")
            return None
        return value

    def lst(self, data: Any, key: str, path: str, *, required: bool = False) -> list | None:
        value = data.get(key) if isinstance(data, dict) else None
        if value is None:
            if required:
                self.add(path, "required list is missing")
            return None
        if not isinstance(value, list):
            self.add(path, f"must be a list, not {_type(value)}")
            return None
        return value

    def text(
        self,
        data: Any,
        key: str,
        path: str,
        *,
        required: bool = True,
        max_len: int | None = None,
        allow_empty: bool = False,
    ) -> str | None:
        value = data.get(key) if isinstance(data, dict) else None
        if value is None:
            if required:
                self.add(path, "required string is missing")
            return None
        if not isinstance(value, str):
            self.add(path, f"must be a string, not {_type(value)}")
            return None
        if not value and not allow_empty:
            if required:
                self.add(path, "must not be empty")
            return None
        if max_len is not None and len(value) > max_len:
            self.add(path, f"at most {max_len} characters (got {len(value)})")
        if "{{" in value and PLACEHOLDER.search(value):
            self.add(path, "contains an unrendered placeholder like {{1}}")
        return value

    def choice(
        self, data: Any, key: str, path: str, options: tuple[str, ...], *, required: bool = True
    ) -> Any:
        value = data.get(key) if isinstance(data, dict) else None
        if value is None:
            if required:
                self.add(path, f"required; one of {', '.join(options)}")
            return None
        if value not in options:
            self.add(path, f"must be one of {', '.join(options)} (got {value!r})")
            return None
        return value

    def url(self, data: Any, key: str, path: str, *, required: bool = True) -> str | None:
        value = self.text(data, key, path, required=required)
        if value is not None and not URL.match(value):
            self.add(path, "must be an absolute http(s) URL")
        return value

    def label(self, data: Any, key: str, path: str) -> str | None:
        value = self.text(data, key, path, max_len=MAX_LABEL)
        if value is not None and CONTROL.search(value):
            self.add(path, "must not contain control characters or line breaks")
        return value

    def phone(self, data: Any, key: str, path: str) -> str | None:
        value = self.text(data, key, path)
        if value is not None and not E164.match(value):
            self.add(path, f"must be an E.164 number with a leading + (got {value!r})")
        return value


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def media_type(url: str, content_type: str | None) -> str | None:
    """The declared content type, else the one the URL's extension implies (None when unknown)."""
    if content_type:
        return content_type.lower()
    tail = url.rsplit("?", 1)[0].rsplit(".", 1)
    return _EXTENSIONS.get(tail[-1].lower()) if len(tail) == 2 else None
