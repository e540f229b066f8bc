"""The simulator's behaviour knobs: one typed record, parsed from JSON, CLI flags or keyword arguments."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

AUTH_MODES = ("none", "basic", "oauth")
TEMPLATE_STATUSES = ("approved", "rejected", "pending", "submitted", "draft")
# Not statuses: how the template status endpoint treats a name. "unknown" leaves it out of the answer
# (a vendor that has no such template); "error" makes any request naming it answer HTTP 500.
TEMPLATE_UNKNOWN, TEMPLATE_ERROR = "unknown", "error"
TEMPLATE_KNOB_VALUES = (*TEMPLATE_STATUSES, TEMPLATE_UNKNOWN, TEMPLATE_ERROR)

# Fixed credentials the simulator accepts (the demo providers and the tests use them).
BASIC_USER, BASIC_PASSWORD = "sim-user", "sim-pass"
OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET = "sim-client", "sim-secret"  # noqa: S105 - a fixed test double
JIOCX_API_KEY = "sim-api-key"


class KnobError(ValueError):
    """A knob name or value the simulator does not accept (answered with HTTP 400 on /_sim/config)."""


@dataclass
class Knobs:
    # -- send endpoint faults (shares are probabilities 0..1, drawn once per request) --
    latency_ms: float = 0  # fixed latency added to every send request
    jitter_ms: float = 0  # plus a uniform random 0..jitter_ms
    error_500: float = 0.0
    error_429: float = 0.0
    retry_after: int = 1  # seconds in Retry-After on a 429 (0: no header)
    timeout: float = 0.0  # share of requests never answered (held, then the connection is closed)
    timeout_hold_ms: float = 60_000
    reset: float = 0.0  # share of requests answered by a TCP reset
    failure_200: float = 0.0  # share answered 200 {"status":"failure","error":{"code":failure_code}}
    failure_code: int = 2004
    invalid_suffix: str = ""  # numbers ending so get 200 failure 2002 (invalid phone); "" = off
    # -- authentication --
    auth: str = "none"  # none | basic | oauth (Generic RCS send and template status)
    token_expires_in: int = 3600
    token_error_500: float = 0.0  # share of token requests answered 500
    jiocx_api_key: str = JIOCX_API_KEY
    # -- delivery simulation (callbacks) --
    callbacks: bool = True
    callback_delay_ms: float = 50  # between the steps sent -> delivered -> read -> engagement
    callback_batch: int = 1  # Generic RCS: at most this many statuses per callback POST
    callback_batch_window_ms: float = 20  # with callback_batch > 1: how long due events are collected
    callback_retries: int = 3  # extra attempts after a 5xx or connection error
    callback_backoff_ms: float = 100  # first retry delay, doubled each time
    callback_timeout_ms: float = 5_000
    non_rcs_suffix: str = "0"  # numbers ending so are not RCS-capable ("" = every number is)
    sms_fail_suffix: str = ""  # numbers ending so also fail the SMS fallback
    read_share: float = 1.0  # share of delivered RCS messages that are read
    click_share: float = 0.0  # share of read messages with an OPEN_URL suggestion that get a click
    reply_share: float = 0.0  # share of read messages that get a reply
    free_text_share: float = 0.0  # share of replies typed as free text instead of tapping a REPLY chip
    reply_text: str = "Sounds good, tell me more"
    follow_clicks: bool = False  # also GET the clicked URL like a phone browser (exercises click tracking)
    duplicate_callbacks: float = 0.0  # share of callbacks posted twice
    shuffle_callbacks: bool = False  # post a message's events in random order
    early_callbacks: bool = False  # post the first events before answering the send request
    hmac_secret: str = ""  # sign callback bodies: X-RCS-Signature: sha256=<hex HMAC-SHA256 of the raw body>
    jiocx_webhooks: dict[str, str] = field(default_factory=dict)  # JioCX agent ID -> webhook URL
    # -- template status endpoint --
    template_statuses: dict[str, Any] = field(default_factory=dict)  # name -> status | {status, reason}

    def public(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if data["hmac_secret"]:
            data["hmac_secret"] = "***"  # noqa: S105 - the mask, not a secret
        return data

    def updated(self, changes: dict[str, Any]) -> Knobs:
        """A copy with `changes` applied; raises KnobError naming the first bad knob."""
        new = dataclasses.replace(self)
        new.jiocx_webhooks = dict(self.jiocx_webhooks)
        new.template_statuses = dict(self.template_statuses)
        for name, value in changes.items():
            setattr(new, name, coerce(name, value))
        return new


_FIELDS = {f.name: f for f in dataclasses.fields(Knobs)}
_SHARES = {
    "error_500",
    "error_429",
    "timeout",
    "reset",
    "failure_200",
    "token_error_500",
    "read_share",
    "click_share",
    "reply_share",
    "free_text_share",
    "duplicate_callbacks",
}
KNOB_NAMES = tuple(_FIELDS)


def coerce(name: str, value: Any) -> Any:
    """Check and convert one knob value (strings from the command line are accepted too)."""
    if name not in _FIELDS:
        raise KnobError(f"{name}: unknown knob (known: {', '.join(KNOB_NAMES)})")
    kind = _FIELDS[name].type
    try:
        if name in _SHARES:
            number = float(_parse_bool(value) if isinstance(value, bool | str) and _is_bool(value) else value)
            if not 0.0 <= number <= 1.0:
                raise KnobError(f"{name}: must be a share between 0 and 1 (got {value!r})")
            return number
        if kind == "bool":
            return _parse_bool(value)
        if kind in ("float", "int"):
            if isinstance(value, bool):
                raise TypeError
            number = float(value) if kind == "float" else int(value)
            if number < 0:
                raise KnobError(f"{name}: must not be negative (got {value!r})")
            if name == "callback_batch" and number < 1:
                raise KnobError(f"{name}: must be at least 1 (got {value!r})")
            return number
        if kind == "str":
            if not isinstance(value, str):
                raise TypeError
            if name == "auth" and value not in AUTH_MODES:
                raise KnobError(f"auth: must be one of {', '.join(AUTH_MODES)} (got {value!r})")
            if name.endswith("_suffix") and value and not value.isdigit():
                raise KnobError(f"{name}: must be digits or empty (got {value!r})")
            return value
        if name == "jiocx_webhooks":
            return _webhooks(value)
        if name == "template_statuses":
            return _template_statuses(value)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, KnobError):
            raise
        raise KnobError(f"{name}: invalid value {value!r} (expected {kind})") from exc
    raise KnobError(f"{name}: unsupported knob type {kind}")  # pragma: no cover - every field is handled


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or str(value).lower() in ("true", "false", "yes", "no", "on", "off")


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


def _webhooks(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.startswith(("http://", "https://"))
        for k, v in value.items()
    ):
        raise KnobError("jiocx_webhooks: must map agent IDs to http(s) URLs")
    return dict(value)


def _template_statuses(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict):
        raise KnobError("template_statuses: must map template names to a status or {status, reason}")
    result = {}
    for name, entry in value.items():
        status, reason = (
            (entry, "") if isinstance(entry, str) else (entry.get("status"), entry.get("reason", ""))
        )
        if status not in TEMPLATE_KNOB_VALUES or not isinstance(reason, str):
            choices = ", ".join(TEMPLATE_KNOB_VALUES)
            raise KnobError(f"template_statuses.{name}: status must be one of {choices}")
        result[str(name)] = {"status": status, "reason": reason}
    return result


def template_status(knobs: Knobs, name: str) -> dict[str, str]:
    """The status the simulator reports for a template name (configured, else by the name rule).

    The configured status may be TEMPLATE_UNKNOWN or TEMPLATE_ERROR: the endpoint acts on those.
    """
    if name in knobs.template_statuses:
        return {"name": name, **knobs.template_statuses[name]}
    if name.lower().startswith("rej"):
        reason = "Rejected by the simulator: template names starting with 'rej' are always rejected."
        return {"name": name, "status": "rejected", "reason": reason}
    return {"name": name, "status": "approved", "reason": ""}
