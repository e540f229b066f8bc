"""Log redaction: secrets never reach a log line, whatever a caller formats into it."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import quote, quote_plus

# Header and field names whose values are masked wherever they appear in a log message.
SECRET_NAMES = (
    "authorization",
    "x-apikey",
    "api_key",
    "apikey",
    "password",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "x-rcs-signature",
)
_PATTERN = re.compile(
    r"""(?ix)
    (\\?["']?(?:NAMES)\\?["']?\s*[:=]\s*\\?["']?)   # name, separator, optional (JSON-escaped) quote
    (?:(?:basic|bearer)\s+)?             # optional auth scheme
    [^"'\s,;}&\\]+                       # the value
    """.replace("NAMES", "|".join(re.escape(n) for n in SECRET_NAMES))
)
# A credential after its scheme wherever it appears (an echoed header in a vendor's answer): base64
# or token characters, with a digit or a symbol in it (not a word such as "Basic authentication").
_SCHEME = re.compile(r"(?i)\b(basic|bearer)(\s+)(?=[A-Za-z0-9._~+/-]*[0-9._~+/=-])[A-Za-z0-9._~+/-]{8,}=*")
MASK = "********"
# A callback URL's token identifies (and, without HMAC, authenticates) a provider: never logged.
_CALLBACK_PATH = re.compile(r"/callbacks/[^/\s'\"]+/?")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without credentials: the given secret values in every form they travel in (as is,
    JSON-escaped, URL-encoded, base64; a Basic header's user:password too), any Basic or Bearer
    credential, and the values of secret-looking names (`"Authorization": "..."`, `api_key=...`)."""
    for form in secret_forms(tuple(secrets)):
        if form in text:
            text = text.replace(form, MASK)
    text = _SCHEME.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    return _PATTERN.sub(lambda m: m.group(1) + MASK, text)


@lru_cache(maxsize=512)
def secret_forms(values: tuple[str, ...]) -> tuple[str, ...]:
    """Every form of these secret values worth looking for, longest first (values under 4
    characters are skipped: masking them would mask ordinary text)."""
    plain: set[str] = set()
    for value in values:
        value = str(value)
        scheme, _, rest = value.partition(" ")
        if scheme.lower() in ("basic", "bearer") and rest.strip():
            value = rest.strip()
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(value, validate=True).decode()
                except (binascii.Error, UnicodeDecodeError):
                    decoded = ""
                plain.update([decoded, decoded.partition(":")[2]])
        plain.add(value)
    forms: set[str] = set()
    for value in plain:
        if len(value) < 4:
            continue
        forms.update(
            {
                value,
                json.dumps(value)[1:-1],
                quote(value, safe=""),
                quote_plus(value),
                base64.b64encode(value.encode()).decode(),
            }
        )
    return tuple(sorted((f for f in forms if len(f) >= 4), key=len, reverse=True))


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not stop logging
            return True
        cleaned = _CALLBACK_PATH.sub("/callbacks/" + MASK + "/", redact(message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
