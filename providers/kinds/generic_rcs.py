"""Generic RCS: any BSP speaking CleverTap's Generic RCS API (WIRE.md sections 1 to 3).

Every Generic RCS wire name lives in this module: the request envelope, the content mapping, the
response table (WIRE.md 1.3) and the two callback shapes (3a RCS status batch, 3b SMS event groups).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms

from providers import content as c
from providers.events import (
    CLICKED,
    FAILED,
    RCS,
    REPLIED,
    SMS,
    CallbackShapeError,
    DeliveryEvent,
    InboundMessage,
)
from providers.headers import headers_resolved

from .base import Outcome, PreparedRequest, ProviderKind, SendResult, TemplateStatus, TemplateStatusError
from .common import (
    drop_empty,
    follow_redirects_field,
    kv_list,
    parse_timestamp,
    response_json,
    status_result,
    transport_result,
)

if TYPE_CHECKING:
    import requests

    from providers.content import OutboundMessage

PAYLOAD_VERSION = 0.1
# 200 {"status":"failure"} codes (WIRE.md 1.3); 2000 means our credentials are wrong.
INVALID_CREDENTIALS = "2000"
FAILURE_CODES = {
    "2000": "Invalid credentials",
    "2001": "Template parameters mismatch",
    "2002": "Invalid phone number",
    "2003": "User not subscribed",
    "2004": "Other error",
}
VENDOR_ID_KEYS = ("id", "messageId", "vendorMsgId")
# Shape 3b: event names of the Generic SMS callback -> our statuses.
SMS_EVENTS = {
    "delivered": "delivered",
    "failed": FAILED,
    "replied": REPLIED,
    "clicked": CLICKED,
    "sent": "sent",
}

# Template status endpoint [ours: WIRE.md defines none; this is the simulator's shape]:
# GET <template status URL>?name=a&name=b -> {"templates": [{"name", "status", "reason"}]}.
# A name the vendor does not know is left out of the answer. Vendor words -> our statuses:
TEMPLATE_STATUSES = {
    "draft": "draft",
    "submitted": "submitted",
    "pending": "submitted",
    "approved": "approved",
    "rejected": "rejected",
}

AUTH_NONE, AUTH_BASIC, AUTH_OAUTH2 = "none", "basic", "oauth2"


class GenericRcsKind(ProviderKind):
    slug = "generic_rcs"
    name = "Generic RCS"
    config_fields: ClassVar[dict[str, forms.Field]] = {
        "method": forms.ChoiceField(
            label="Request type", choices=[("POST", "POST"), ("PUT", "PUT")], initial="POST"
        ),
        "endpoint": forms.URLField(
            assume_scheme="https",
            label="Messaging endpoint",
            help_text="HTTPS URL that receives every message.",
            max_length=500,
        ),
        "auth_type": forms.ChoiceField(
            label="Authentication",
            choices=[(AUTH_NONE, "None"), (AUTH_BASIC, "Basic"), (AUTH_OAUTH2, "OAuth 2.0")],
            initial=AUTH_NONE,
        ),
        "username": forms.CharField(label="User", required=False, max_length=200),
        "client_url": forms.URLField(
            assume_scheme="https",
            label="OAuth 2.0 client URL",
            required=False,
            max_length=500,
            help_text="The token endpoint.",
        ),
        "client_id": forms.CharField(label="Client ID", required=False, max_length=200),
        "template_status_url": forms.URLField(
            assume_scheme="https",
            label="Template status URL",
            required=False,
            max_length=500,
            help_text="Optional: the BSP's endpoint answering GET ?name=a&name=b with the templates' "
            "approval status (used by sync_templates --provider). Same authentication as sending.",
        ),
        "follow_redirects": follow_redirects_field(),
    }
    secret_fields: ClassVar[dict[str, forms.Field]] = {
        "password": forms.CharField(label="Password", required=False, max_length=500),
        "client_secret": forms.CharField(label="Secret key", required=False, max_length=500),
    }
    key_value_fields: ClassVar[dict[str, str]] = {
        "extra_params": "OAuth 2.0 extra key-values",
        "headers": "Headers",
        "rcs_params": "RCS body parameters",
    }
    # Which config fields each auth type needs (the form shows only these).
    auth_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        AUTH_NONE: (),
        AUTH_BASIC: ("username", "password"),
        AUTH_OAUTH2: ("client_url", "client_id", "client_secret", "extra_params"),
    }
    url_fields: ClassVar[tuple[str, ...]] = ("endpoint", "client_url", "template_status_url")
    required_fields: ClassVar[tuple[str, ...]] = ("endpoint",)
    auth_choice_field: ClassVar[str] = "auth_type"
    auth_optional: ClassVar[frozenset[str]] = frozenset({"extra_params"})
    oauth_settings: ClassVar[dict[str, str]] = {
        "token_url": "client_url",
        "client_id": "client_id",
        "client_secret": "client_secret",
        "extra_params": "extra_params",
    }
    supports_template_status = True  # when the provider has a template status URL

    # -- send ---------------------------------------------------------------------------------------
    def build_request(self, message: OutboundMessage) -> PreparedRequest:
        provider, config = self.provider, self.provider.config
        rcs: dict[str, Any] = {
            "senderId": provider.sender_id,
            "customParam": kv_list(config.get("rcs_params")) + kv_list(message.custom_params),
            "content": self.map_content(message.content),
        }
        if message.template:
            rcs["template"] = {
                "name": message.template.name,
                "language": message.template.language,
                "variables": list(message.template.variables),
            }
        body: dict[str, Any] = {
            "payloadVersion": PAYLOAD_VERSION,
            "msgId": message.msg_id,
            "to": message.to,
            "callbackURL": message.callback_url,
            "rcsContent": rcs,
        }
        if message.sms is not None:
            sms = message.sms
            sms_body: dict[str, Any] = {"senderId": sms.sender_id or provider.sms_sender_id, "body": sms.body}
            if provider.india or sms.dlt_template_id or sms.principal_entity_id:
                sms_body["dltTemplateId"] = sms.dlt_template_id or _first(provider.dlt_template_ids)
                sms_body["principalEntityId"] = sms.principal_entity_id or provider.principal_entity_id
            sms_body["customParam"] = kv_list(sms.params) if sms.params else kv_list(provider.sms_params)
            body["smsContent"] = sms_body
        headers = {"Content-Type": "application/json"}
        headers.update(headers_resolved(config, self.provider.secrets))
        return PreparedRequest(
            method=config.get("method", "POST"), url=config.get("endpoint", ""), headers=headers, json=body
        )

    def auth_headers(self, session: requests.Session, *, refresh: bool = False) -> dict[str, str]:
        from providers.auth import basic_header, oauth_token

        config, secrets = self.provider.config, self.provider.secrets or {}
        auth_type = config.get("auth_type", AUTH_NONE)
        if auth_type == AUTH_BASIC:
            return {"Authorization": basic_header(config.get("username", ""), secrets.get("password", ""))}
        if auth_type == AUTH_OAUTH2:
            return {"Authorization": "Bearer " + oauth_token(self.provider, session, refresh=refresh)}
        return {}

    def auth_headers_at_hand(self) -> dict[str, str] | None:
        from providers.auth import local_token

        if self.provider.config.get("auth_type", AUTH_NONE) == AUTH_OAUTH2:
            token = local_token(self.provider)
            return {"Authorization": "Bearer " + token} if token else None
        return self.auth_headers(None)  # none or Basic: no I/O

    def classify(self, response: requests.Response | None, error: BaseException | None = None) -> SendResult:
        if response is None:
            return transport_result(error or RuntimeError("no response"))
        by_status = status_result(response, reauth=self.provider.config.get("auth_type") == AUTH_OAUTH2)
        if by_status is not None:
            return by_status
        data = response_json(response)
        if not isinstance(data, dict):
            return SendResult(Outcome.SENT)
        if str(data.get("status", "")).lower() == "failure":
            error_data = data.get("error") if isinstance(data.get("error"), dict) else {}
            code = str(error_data.get("code", "2004"))
            return SendResult(
                Outcome.FAILED,
                error_code=code,
                error_message=str(error_data.get("message") or FAILURE_CODES.get(code, ""))[:300],
                provider_unhealthy=code == INVALID_CREDENTIALS,
            )
        vendor_id = next((str(data[k]) for k in VENDOR_ID_KEYS if data.get(k)), "")
        return SendResult(Outcome.SENT, vendor_id=vendor_id)

    # -- template status ----------------------------------------------------------------------------
    def template_status_unavailable(self) -> str:
        if self.provider.config.get("template_status_url"):
            return ""
        return "No template status URL is set for this provider (Generic RCS settings)."

    def template_statuses(self, session: requests.Session, names: list[str]) -> list[TemplateStatus]:
        url = self.provider.config.get("template_status_url", "")
        headers = {"Accept": "application/json"}
        headers.update(headers_resolved(self.provider.config, self.provider.secrets))
        params = [("name", name) for name in names]
        # Redirects are not followed (credentials and configured headers would go along): a 3xx is
        # a TemplateStatusError naming it, below.
        response = session.get(
            url, params=params, headers={**headers, **self.auth_headers(session)}, allow_redirects=False
        )
        if response.status_code in (401, 403) and self.provider.config.get("auth_type") == AUTH_OAUTH2:
            # As for a send: the cached token may have expired at the vendor; refresh it once.
            auth = self.auth_headers(session, refresh=True)
            response = session.get(url, params=params, headers={**headers, **auth}, allow_redirects=False)
        if response.status_code in (401, 403):
            from providers.auth import AuthError

            refused = _vendor_error(response)
            raise AuthError(f"The template status endpoint refused our credentials ({refused}).")
        if response.is_redirect:
            raise TemplateStatusError(
                f"HTTP {response.status_code}: redirected to {response.headers['Location']}"
            )
        if not 200 <= response.status_code < 300:
            raise TemplateStatusError(_vendor_error(response))
        data = response_json(response)
        items = data.get("templates") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise TemplateStatusError(f'HTTP {response.status_code}: the answer has no "templates" list.')
        statuses = []
        for item in items:
            if not isinstance(item, dict) or not item.get("name"):
                continue
            word = str(item.get("status") or "").strip().lower()
            statuses.append(
                TemplateStatus(
                    name=str(item["name"]),
                    status=TEMPLATE_STATUSES.get(word, word),
                    reason=str(item.get("reason") or ""),
                )
            )
        return statuses

    # -- content mapping ----------------------------------------------------------------------------
    @classmethod
    def map_content(cls, content: dict[str, Any]) -> dict[str, Any]:
        kind = content.get("type")
        if kind == c.TEXT:
            return {"type": c.TEXT, "text": content.get("text", ""), **cls._suggestions(content)}
        if kind == c.RICH_CARD:
            orientation = content.get("orientation", "VERTICAL")
            out: dict[str, Any] = {"type": c.RICH_CARD, "cardOrientation": orientation}
            if orientation == "HORIZONTAL":
                out["thumbnailImageAlignment"] = content.get("image_alignment") or "LEFT"
            out["card"] = cls._card(content.get("card") or {})
            return out
        if kind == c.CAROUSEL:
            return {
                "type": c.CAROUSEL,
                "cardWidth": content.get("card_width", "MEDIUM"),
                "cards": [cls._card(card) for card in content.get("cards", [])],
            }
        if kind == c.MEDIA:
            media = content.get("media") or {}
            return {
                "type": c.MEDIA,
                "media": drop_empty(
                    {
                        "url": media.get("url"),
                        "contentType": media.get("content_type"),
                        "thumbnailUrl": media.get("thumbnail_url"),
                    }
                ),
                **cls._suggestions(content),
            }
        raise ValueError(f"Unknown content type {kind!r}.")

    @classmethod
    def _card(cls, card: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"title": card.get("title", ""), "description": card.get("description", "")}
        if media := card.get("media"):
            out["media"] = drop_empty(
                {
                    "url": media.get("url"),
                    "height": media.get("height"),
                    "thumbnailUrl": media.get("thumbnail_url"),
                    "contentType": media.get("content_type"),
                }
            )
        out.update(cls._suggestions(card))
        return out

    @staticmethod
    def _suggestions(holder: dict[str, Any]) -> dict[str, Any]:
        out = []
        for s in holder.get("suggestions") or []:
            item = {"type": s["type"], "text": s.get("text", ""), "postbackData": s.get("postback_data", "")}
            if s["type"] == c.OPEN_URL:
                item["url"] = s.get("url", "")
            elif s["type"] == c.DIAL_PHONE:
                item["phoneNumber"] = s.get("phone_number", "")
            out.append(item)
        return {"suggestions": out}

    # -- callbacks ----------------------------------------------------------------------------------
    def parse_callback(self, body: Any) -> list[DeliveryEvent | InboundMessage]:
        if isinstance(body, dict) and isinstance(body.get("statuses"), list):
            return [e for item in body["statuses"] if (e := _status_event(item)) is not None]
        if isinstance(body, dict) and "status" in body and ("msgId" in body or "from" in body):
            # A single 3a status sent on its own, without the `statuses` batch around it.
            return [e for e in [_status_event(body)] if e is not None]
        if isinstance(body, dict) and "event" in body and isinstance(body.get("data"), list):
            body = [body]  # a single 3b event group
        if isinstance(body, list) and body and all(isinstance(g, dict) and "event" in g for g in body):
            events: list[DeliveryEvent | InboundMessage] = []
            for group in body:
                name = str(group.get("event", "")).lower()
                for item in group.get("data") or []:
                    if (event := _sms_event(name, item)) is not None:
                        events.append(event)
            return events
        raise CallbackShapeError("Not a Generic RCS status batch or SMS event list.")


def _vendor_error(response: requests.Response) -> str:
    """`HTTP <code>: <the vendor's error message>` for a refused request."""
    data = response_json(response)
    error = data.get("error") if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    text = str(message or response.text or response.reason or "")[:200]
    return f"HTTP {response.status_code}: {text}" if text else f"HTTP {response.status_code}"


def _first(values: Any) -> str:
    return str(values[0]) if isinstance(values, list) and values else ""


def _status_event(item: Any) -> DeliveryEvent | InboundMessage | None:
    """Shape 3a: one entry of `statuses` (not a dict: skipped)."""
    if not isinstance(item, dict):
        return None
    status = str(item.get("status", "")).strip().lower()
    msg_id = str(item.get("msgId") or "")
    when = parse_timestamp(item.get("timestamp"))
    if status == REPLIED and not msg_id and item.get("from"):
        return InboundMessage(
            from_number=str(item["from"]),
            text=str(item.get("text") or ""),
            postback_data=str(item.get("postbackData") or ""),
            timestamp=when,
        )
    error = item.get("error") if isinstance(item.get("error"), dict) else {}
    # An unknown status or channel, or no msgId, is kept as it came: the callback store reports the
    # record as unprocessed (answer "partial", docs/callbacks.md) instead of dropping it silently.
    channel = str(item.get("channel") or RCS).strip().upper()
    return DeliveryEvent(
        msg_id=msg_id,
        channel=channel,
        status=status,
        timestamp=when,
        error_code=str(error.get("code") or ""),
        error_message=str(error.get("title") or error.get("message") or ""),
        url=str(item.get("url") or item.get("shortUrl") or ""),
        postback_data=str(item.get("postbackData") or ""),
        text=str(item.get("text") or ""),
        from_number=str(item.get("from") or ""),
        suggestion_type=str(item.get("suggestionType") or ""),
    )


def _sms_event(name: str, item: Any) -> DeliveryEvent | InboundMessage | None:
    """Shape 3b: one record of a Generic SMS event group; `meta` carries our msgId."""
    status = SMS_EVENTS.get(name)
    if status is None or not isinstance(item, dict):
        return None
    msg_id = str(item.get("meta") or "")
    when = parse_timestamp(item.get("ts"))
    if not msg_id:
        if status == REPLIED and item.get("toPhone"):
            return InboundMessage(
                from_number=str(item["toPhone"]), text=str(item.get("incomingText") or ""), timestamp=when
            )
        return None
    return DeliveryEvent(
        msg_id=msg_id,
        channel=SMS,
        status=status,
        timestamp=when,
        error_code=str(item.get("code") or "") if status == FAILED else "",
        error_message=str(item.get("description") or "") if status == FAILED else "",
        url=str(item.get("url") or item.get("shortUrl") or ""),
        text=str(item.get("incomingText") or ""),
        from_number=str(item.get("toPhone") or ""),
    )


# -- settings built by the platform's own tools (the quick-start demo, the conformance command) ---------
def tool_settings(
    *,
    endpoint: str,
    method: str = "POST",
    auth: str = AUTH_NONE,
    user: str = "",
    password: str = "",
    client_url: str = "",
    client_id: str = "",
    client_secret: str = "",
    headers: list[dict[str, str]] | None = None,
    **extra: Any,
) -> tuple[dict[str, Any], dict[str, str]]:
    """(config, secrets) of a Generic RCS provider from neutral arguments; `extra` are further config
    keys (template_status_url, rcs_params, ...)."""
    config: dict[str, Any] = {
        "method": method,
        "endpoint": endpoint,
        "auth_type": auth,
        "username": user,
        "client_url": client_url,
        "client_id": client_id,
        "extra_params": [],
        "headers": headers or [],
        **extra,
    }
    secrets = {
        key: value for key, value in (("password", password), ("client_secret", client_secret)) if value
    }
    return config, secrets
