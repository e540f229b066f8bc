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


@dataclass(frozen=True)
class DeclaredField:
    """One setting a kind declares, as every surface shows it (ProviderKind.declared_fields).

    `store`: "config" (a form field in config_fields), "secrets" (write-only, in secret_fields) or
    "key_value" (a list of {name, value} rows in config). `shown_when`: (config field, values) when the
    setting applies only to some values of another field (an authentication choice, for example);
    `required`: always needed; `required_when_shown`: needed whenever it applies.
    """

    key: str
    store: str
    label: str
    field: forms.Field | None = None
    required: bool = False
    required_when_shown: bool = False
    shown_when: tuple[str, tuple[str, ...]] | None = None
    help_text: str = ""


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
    # -- the form and validation contract (providers.validation, providers.forms, the API) ----------------
    # The label of Provider.sender_id for this vendor (e.g. "Agent ID").
    sender_id_label: ClassVar[str] = "RCS sender ID"
    # Config fields holding vendor URLs: HTTPS only, resolving to addresses the outbound guard allows.
    url_fields: ClassVar[tuple[str, ...]] = ()
    # Config fields and secrets that must always be given.
    required_fields: ClassVar[tuple[str, ...]] = ()
    required_secrets: ClassVar[tuple[str, ...]] = ()
    # The config field choosing the authentication ("" for none), and for each choice the fields and
    # secrets it needs, in the order the form shows them (each secret beside its user or ID field).
    auth_choice_field: ClassVar[str] = ""
    auth_fields: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Which config/secret/key-value fields follow the auth fields of a choice but are optional.
    auth_optional: ClassVar[frozenset[str]] = frozenset()
    # Config fields shown only when another config field has one of some values: key -> (field, values).
    shown_when: ClassVar[dict[str, tuple[str, tuple[str, ...]]]] = {}
    # OAuth 2.0 client-credentials settings by role: {"token_url", "client_id", "client_secret",
    # "extra_params"} -> the kind's config/secret/key-value key (empty: the kind has no OAuth).
    oauth_settings: ClassVar[dict[str, str]] = {}
    # The kind's limit profile: template limits stricter than RBM (templates_app.limits names), e.g.
    # {"TEXT_MAX": 800}. Empty: the platform limits apply.
    limit_profile: ClassVar[dict[str, int]] = {}

    def __init__(self, provider: Any):  # a providers.models.Provider (not imported: models import the kinds)
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
    def auth_fields_for(cls, config: dict[str, Any]) -> tuple[str, ...]:
        """The fields and secrets the chosen authentication needs (required unless in auth_optional)."""
        if not cls.auth_choice_field:
            return ()
        chosen = cls.auth_fields.get(str(config.get(cls.auth_choice_field) or ""), ())
        return tuple(key for key in chosen if key not in cls.auth_optional)

    @classmethod
    def tracks_clicks(cls, config: dict[str, Any]) -> bool:
        """Whether the provider (with this config) wraps links for click tracking itself."""
        return False

    @classmethod
    def field_order(cls) -> list[str]:
        """Config fields, secrets and key-value lists in form order: as declared, with the fields of every
        authentication choice right after the choice, in the order auth_fields names them (so each
        secret sits beside its user or ID field)."""
        auth: list[str] = []
        for keys in cls.auth_fields.values():
            auth += [key for key in keys if key not in auth]
        order: list[str] = []
        for key in cls.config_fields:
            if key not in auth:
                order.append(key)
            if key == cls.auth_choice_field:
                order += auth
        return order + [k for k in [*cls.secret_fields, *cls.key_value_fields] if k not in order]

    @classmethod
    def declared_fields(cls) -> list[DeclaredField]:
        """Every setting of the kind in form order (field_order), with where it is stored, whether it is
        required and when it applies. The dashboard form, the admin form and the API schema all read
        this one list."""
        out = []
        for key in cls.field_order():
            shown_when = cls.shown_when.get(key)
            if shown_when is None and cls.auth_choice_field:
                choices = tuple(choice for choice, keys in cls.auth_fields.items() if key in keys)
                if choices:
                    shown_when = (cls.auth_choice_field, choices)
            auth_required = bool(shown_when) and shown_when[0] == cls.auth_choice_field
            auth_required = auth_required and key not in cls.auth_optional
            if key in cls.config_fields:
                field = cls.config_fields[key]
                store, label = "config", field.label or key
                # (a field with an initial value takes it when not given: providers.validation.clean_config)
                required = key in cls.required_fields or (field.required and field.initial in (None, ""))
            elif key in cls.secret_fields:
                field = cls.secret_fields[key]
                store, label, required = "secrets", field.label or key, key in cls.required_secrets
            else:
                field, store, label, required = None, "key_value", cls.key_value_fields[key], False
            out.append(
                DeclaredField(
                    key=key,
                    store=store,
                    label=str(label),
                    field=field,
                    required=required,
                    required_when_shown=auth_required,
                    shown_when=shown_when,
                    help_text=str(getattr(field, "help_text", "") or ""),
                )
            )
        return out

    @classmethod
    def credential_pairs(cls, config: dict[str, Any], secrets: dict[str, Any]) -> list[str]:
        """ "<user>:<secret>" for each user or ID field followed by its secret in an authentication choice
        (a Basic user and password, an OAuth client ID and secret): masked wherever a secret is."""
        pairs = []
        for keys in cls.auth_fields.values():
            for user, secret in zip(keys, keys[1:], strict=False):
                declared = user in cls.config_fields and secret in cls.secret_fields
                if declared and config.get(user) and secrets.get(secret):
                    pairs.append(f"{config[user]}:{secrets[secret]}")
        return pairs

    @classmethod
    def oauth_config(cls, config: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any] | None:
        """The OAuth 2.0 client-credentials settings (token_url, client_id, client_secret, extra_params
        as a dict) when the chosen authentication is OAuth; None otherwise."""
        keys = cls.oauth_settings
        if not keys:
            return None
        if cls.auth_choice_field:
            chosen = cls.auth_fields.get(str(config.get(cls.auth_choice_field) or ""), ())
            if keys["client_id"] not in chosen:
                return None
        rows = config.get(keys.get("extra_params", ""), []) or []
        return {
            "token_url": config.get(keys["token_url"], ""),
            "client_id": config.get(keys["client_id"], ""),
            "client_secret": secrets.get(keys["client_secret"], ""),
            "extra_params": {
                row["name"]: row.get("value", "") for row in rows if isinstance(row, dict) and row.get("name")
            },
        }

    def authenticate_callback(self, *, body: bytes, headers: Any, now: float | None = None) -> str:
        """Check a callback's authentication (after its URL token matched). Return the signature to
        remember against replays ("" for none); raise providers.callback_auth.CallbackAuthError to refuse.
        The default is the platform's HMAC / Basic check with the provider's stored credentials."""
        from providers.callback_auth import hmac_basic_authenticate

        return hmac_basic_authenticate(self.provider, body=body, headers=headers, now=now)

    @classmethod
    def validate_config(cls, config: dict[str, Any], secrets: dict[str, Any]) -> dict[str, list[str]]:
        """Cross-field checks beyond single fields; returns {field: [messages]}."""
        return {}
