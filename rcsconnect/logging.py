"""Log redaction: secrets never reach a log line, whatever a caller formats into it."""

from __future__ import annotations

import logging
import re

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
    (["']?(?:NAMES)["']?\s*[:=]\s*["']?)   # name, separator, optional quote
    (?:(?:basic|bearer)\s+)?             # optional auth scheme
    [^"'\s,;}&]+                          # the value
    """.replace("NAMES", "|".join(re.escape(n) for n in SECRET_NAMES))
)
MASK = "********"


def redact(text: str) -> str:
    return _PATTERN.sub(lambda m: m.group(1) + MASK, text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not stop logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
