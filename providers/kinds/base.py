"""The provider-kind contract. One subclass per vendor API, one module per subclass.

A kind is declarative where it can be (slug, name, config and secret fields, redaction keys) and
implements a few hooks for behaviour. Nothing outside `providers/kinds/<kind>.py` may read a vendor
field name: campaigns, callbacks and templates talk to these hooks and to the neutral types in
`providers.content` and `providers.events`. See `providers/ADDING_A_PROVIDER.md`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import requests
    from django import forms

    from providers.content import OutboundMessage
    from providers.events import DeliveryEvent, InboundMessage
    from providers.models import Provider


@dataclass(frozen=True)
class PreparedRequest:
    """Everything needed to send one message over HTTP (auth headers are added by the sender)."""

    method: str
    url: str
    headers: dict[str, str]
    json: Any


class Outcome(enum.StrEnum):
    SENT = "sent"  # accepted by the vendor
    FAILED = "failed"  # final failure, do not retry
    RETRY = "retry"  # transient: 5xx, timeout, connection error, 429
    REAUTH = "reauth"  # 401/403 with a token: refresh the token once and resend once


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    vendor_id: str = ""
    error_code: str = ""
    error_message: str = ""
    retry_after: float | None = None  # seconds, from Retry-After
    throttled: bool = False  # a 429: the whole provider slows down
    provider_unhealthy: bool = False  # e.g. invalid credentials (2000)


class TemplateStatusError(Exception):
    """The vendor answered a template status request with an error (it was reached, but said no).

    `sync_templates` then asks again one name at a time, so one template the vendor chokes on does not
    fail the others. Transport and credential errors are raised as they are (asking again cannot help).
    """


@dataclass
class TemplateStatus:
    name: str
    status: str  # draft | submitted | approved | rejected
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class ProviderKind:
    """Base class. Subclasses set the class attributes and implement the hooks marked below."""

    slug: ClassVar[str]
    name: ClassVar[str]
    # Templates receive kind classes (kind.name, kind.slug): do not instantiate them there.
    do_not_call_in_templates: ClassVar[bool] = True
    # Form fields stored in Provider.config, by key.
    config_fields: ClassVar[dict[str, forms.Field]] = {}
    # Form fields stored (encrypted) in Provider.secrets, by key. Write-only: blank means keep.
    secret_fields: ClassVar[dict[str, forms.Field]] = {}
    # Key-value lists stored in Provider.config as [{name, value}], edited as rows: key -> label.
    key_value_fields: ClassVar[dict[str, str]] = {}
    # Header / body keys whose values are masked in the request inspector and logs.
    redaction_keys: ClassVar[frozenset[str]] = frozenset({"authorization", "x-apikey"})
    # Whether the kind has a template status endpoint (used by `sync_templates --provider`).
    supports_template_status: ClassVar[bool] = False

    def __init__(self, provider: Provider):
        self.provider = provider

    @property
    def follow_redirects(self) -> bool:
        """Whether sends follow the vendor's redirects (config `follow_redirects`, off by default)."""
        provider = getattr(self, "provider", None)
        return bool(getattr(provider, "config", None) and provider.config.get("follow_redirects"))

    # -- hooks ------------------------------------------------------------------------------------
    def build_request(self, message: OutboundMessage) -> PreparedRequest:
        """Map a neutral message to this vendor's send request (no auth header; see auth_headers)."""
        raise NotImplementedError

    def auth_headers(self, session: requests.Session, *, refresh: bool = False) -> dict[str, str]:
        """Headers that authenticate a send. `refresh=True` forces a new token (after a 401).

        Raises `providers.auth.AuthError` when credentials cannot be obtained (token endpoint down
        or refusing): the caller keeps the message queued and marks the provider unhealthy.
        """
        return {}

    def auth_headers_at_hand(self) -> dict[str, str] | None:
        """The headers `auth_headers` would give, if they can be had without I/O (no cache or token
        request); else None, and the engine asks `auth_headers` in a worker thread."""
        return None

    def classify(self, response: requests.Response | None, error: BaseException | None = None) -> SendResult:
        """Turn the vendor's answer (or a transport error) into a SendResult (WIRE.md 1.3)."""
        raise NotImplementedError

    def parse_callback(self, body: Any) -> list[DeliveryEvent | InboundMessage]:
        """Normalise one decoded callback body. Raise CallbackShapeError for an unknown shape."""
        raise NotImplementedError

    def template_status_unavailable(self) -> str:
        """Why this provider cannot be asked for template statuses; "" when it can.

        The default follows `supports_template_status`. A kind whose endpoint is optional per provider
        (a config field) overrides this to say what is missing.
        """
        return "" if self.supports_template_status else f"{self.name} has no template status endpoint."

    def template_statuses(self, session: requests.Session, names: list[str]) -> list[TemplateStatus]:
        """Approval status of the named templates at the vendor (only when template_status_unavailable is "").

        Return one TemplateStatus per name the vendor knows, with `status` one of draft, submitted,
        approved, rejected (map the vendor's words here) or the vendor's own word when it cannot be
        mapped; leave out names the vendor does not know. Raise TemplateStatusError when the vendor
        answers with an error; let transport errors and `providers.auth.AuthError` propagate.
        """
        raise NotImplementedError(f"{self.name} has no template status endpoint.")

    @classmethod
    def validate_config(cls, config: dict[str, Any], secrets: dict[str, Any]) -> dict[str, list[str]]:
        """Cross-field checks beyond single fields; returns {field: [messages]}."""
        return {}
