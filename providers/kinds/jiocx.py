"""JioCX (Jio's RCS business messaging API), WIRE.md section 4 and callback shape 3c.

Every JioCX detail stays here: the sendMessage body, suggestion shapes, the `x-apikey` header, the
webhook event names. The public description is third-party [3rd]; shapes we had to guess are kept
in the mapping functions below so a correction is a one-place change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django import forms

from providers import content as c
from providers.events import (
    CLICKED,
    DELIVERED,
    FAILED,
    RCS,
    READ,
    REPLIED,
    SENT,
    SMS,
    CallbackShapeError,
    DeliveryEvent,
    InboundMessage,
)
from rcsconnect import phone

from .base import Outcome, PreparedRequest, ProviderKind, SendResult
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

SEND_PATH = "/api/v1/sendMessage"
CARD_WIDTHS = {"SMALL": "SMALL_WIDTH", "MEDIUM": "MEDIUM_WIDTH"}
# eventType -> (status, error code for terminal failures)
EVENT_TYPES: dict[str, tuple[str, str]] = {
    "SEND_MESSAGE_SUCCESS": (SENT, ""),
    "MESSAGE_SENT": (SENT, ""),
    "MESSAGE_DELIVERED": (DELIVERED, ""),
    "MESSAGE_READ": (READ, ""),
    "SEND_MESSAGE_FAILURE": (FAILED, "send_failure"),
    "MESSAGE_EXPIRED": (FAILED, "expired"),
    "MESSAGE_REVOKED": (FAILED, "revoked"),
}
# SMS fallback events, reported on the same webhook (channel SMS).
SMS_EVENT_TYPES: dict[str, tuple[str, str]] = {
    "SMS_SENT": (SENT, ""),
    "SMS_DELIVERED": (DELIVERED, ""),
    "SMS_FAILED": (FAILED, "sms_failure"),
}
# Keys a user message may use to name the message it answers (a suggestion tap on our message).
REPLY_TO_KEYS = ("replyToMessageId", "inReplyTo", "originalMessageId")
FROM_KEYS = ("userPhoneNumber", "msisdn", "from", "sender")
CLICK_TRACKING_CHOICES = [("off", "Off"), ("default", "JioCX default domain"), ("custom", "Custom domain")]


class JioCxKind(ProviderKind):
    slug = "jiocx"
    name = "JioCX"
    config_fields: ClassVar[dict[str, forms.Field]] = {
        "base_url": forms.URLField(
            assume_scheme="https",
            label="Base API URL",
            max_length=500,
            help_text="HTTPS URL; /api/v1/sendMessage is appended.",
        ),
        "click_tracking": forms.ChoiceField(
            label="Provider click tracking", choices=CLICK_TRACKING_CHOICES, initial="off"
        ),
        "click_domain": forms.CharField(
            label="Click tracking domain", required=False, max_length=200, help_text="For a custom domain."
        ),
        "follow_redirects": follow_redirects_field(),
    }
    secret_fields: ClassVar[dict[str, forms.Field]] = {
        "api_key": forms.CharField(label="API key", required=False, max_length=500),
    }
    sender_id_label: ClassVar[str] = "Agent ID"
    url_fields: ClassVar[tuple[str, ...]] = ("base_url",)
    required_fields: ClassVar[tuple[str, ...]] = ("base_url",)
    required_secrets: ClassVar[tuple[str, ...]] = ("api_key",)
    shown_when: ClassVar[dict[str, tuple[str, tuple[str, ...]]]] = {
        "click_domain": ("click_tracking", ("custom",)),
    }

    @classmethod
    def tracks_clicks(cls, config: dict[str, Any]) -> bool:
        return str(config.get("click_tracking") or "off") != "off"

    @classmethod
    def validate_config(cls, config: dict[str, Any], secrets: dict[str, Any]) -> dict[str, list[str]]:
        if config.get("click_tracking") == "custom" and not config.get("click_domain"):
            return {"click_domain": ["Enter the custom click tracking domain."]}
        return {}

    # -- send ---------------------------------------------------------------------------------------
    def build_request(self, message: OutboundMessage) -> PreparedRequest:
        provider, config = self.provider, self.provider.config
        data: dict[str, Any] = {"content": self.map_content(message.content)}
        params = kv_list(config.get("rcs_params")) + kv_list(message.custom_params)
        if params:
            data["customParams"] = {row["name"]: row["value"] for row in params}
        if message.template:
            data["template"] = {
                "templateID": message.template.name,
                "language": message.template.language,
                "variables": list(message.template.variables),
            }
        tracking = config.get("click_tracking", "off")
        if tracking != "off":
            data["clickTracking"] = drop_empty(
                {"enabled": True, "domain": config.get("click_domain") if tracking == "custom" else None}
            )
        body: dict[str, Any] = {
            "messageID": message.msg_id,
            "agentID": provider.sender_id,
            "campaignID": message.campaign_ref or "",
            "contacts": [message.to.lstrip("+")],
            "data": data,
        }
        if message.sms is not None:
            sms = message.sms
            sms_body = {"senderId": sms.sender_id or provider.sms_sender_id, "text": sms.body}
            if provider.india or sms.dlt_template_id or sms.principal_entity_id:
                ids = provider.dlt_template_ids
                sms_body["dltTemplateId"] = sms.dlt_template_id or (str(ids[0]) if ids else "")
                sms_body["principalEntityId"] = sms.principal_entity_id or provider.principal_entity_id
            extra = kv_list(sms.params) if sms.params else kv_list(provider.sms_params)
            if extra:
                sms_body["customParams"] = {row["name"]: row["value"] for row in extra}
            body["data_sms"] = sms_body
        url = config.get("base_url", "").rstrip("/") + SEND_PATH
        return PreparedRequest(
            method="POST", url=url, headers={"Content-Type": "application/json"}, json=body
        )

    def auth_headers(self, session: requests.Session, *, refresh: bool = False) -> dict[str, str]:
        return {"x-apikey": (self.provider.secrets or {}).get("api_key", "")}

    def auth_headers_at_hand(self) -> dict[str, str] | None:
        return self.auth_headers(None)

    def classify(self, response: requests.Response | None, error: BaseException | None = None) -> SendResult:
        if response is None:
            return transport_result(error or RuntimeError("no response"))
        by_status = status_result(response, reauth=False)
        if by_status is not None:
            return by_status
        data = response_json(response)
        if not isinstance(data, dict):
            return SendResult(Outcome.SENT)
        failed = str(data.get("status", "")).lower() in ("failure", "failed", "error") or (
            data.get("success") is False
        )
        if failed:
            error_data = data.get("error") if isinstance(data.get("error"), dict) else {}
            return SendResult(
                Outcome.FAILED,
                error_code=str(error_data.get("code") or data.get("code") or "jiocx"),
                error_message=str(error_data.get("message") or data.get("message") or "")[:300],
            )
        vendor_id = str(data.get("messageId") or data.get("id") or data.get("transactionId") or "")
        return SendResult(Outcome.SENT, vendor_id=vendor_id)

    # -- content mapping ----------------------------------------------------------------------------
    @classmethod
    def map_content(cls, content: dict[str, Any]) -> dict[str, Any]:
        kind = content.get("type")
        if kind == c.TEXT:
            return {"plainText": content.get("text", ""), **cls._suggestions(content)}
        if kind == c.RICH_CARD:
            orientation = content.get("orientation", "VERTICAL")
            standalone: dict[str, Any] = {"cardOrientation": orientation}
            if orientation == "HORIZONTAL":
                standalone["thumbnailImageAlignment"] = content.get("image_alignment") or "LEFT"
            standalone["content"] = cls._card(content.get("card") or {})
            return {"richCardDetails": {"standalone": standalone}}
        if kind == c.CAROUSEL:
            carousel = {
                "cardWidth": CARD_WIDTHS.get(content.get("card_width", "MEDIUM"), "MEDIUM_WIDTH"),
                "contents": [cls._card(card) for card in content.get("cards", [])],
            }
            return {"richCardDetails": {"carousel": carousel}}
        if kind == c.MEDIA:
            # [ours] A media message is a vertical card with only media: JioCX has no separate shape.
            card = cls._card({"media": content.get("media"), "suggestions": content.get("suggestions")})
            return {"richCardDetails": {"standalone": {"cardOrientation": "VERTICAL", "content": card}}}
        raise ValueError(f"Unknown content type {kind!r}.")

    @classmethod
    def _card(cls, card: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = drop_empty(
            {"cardTitle": card.get("title"), "cardDescription": card.get("description")}
        )
        if media := card.get("media"):
            out["cardMedia"] = drop_empty(
                {
                    "mediaHeight": media.get("height") or "MEDIUM",
                    "contentInfo": drop_empty(
                        {"fileUrl": media.get("url"), "thumbnailUrl": media.get("thumbnail_url")}
                    ),
                }
            )
        out.update(cls._suggestions(card))
        return out

    @staticmethod
    def _suggestions(holder: dict[str, Any]) -> dict[str, Any]:
        out = []
        for s in holder.get("suggestions") or []:
            common = {"plainText": s.get("text", ""), "postBack": {"data": s.get("postback_data", "")}}
            if s["type"] == c.REPLY:
                out.append({"reply": common})
            elif s["type"] == c.OPEN_URL:
                out.append({"action": {**common, "openUrl": {"url": s.get("url", "")}}})
            elif s["type"] == c.DIAL_PHONE:
                out.append({"action": {**common, "dialerAction": {"phoneNumber": s.get("phone_number", "")}}})
        return {"suggestions": out}

    # -- callbacks ----------------------------------------------------------------------------------
    def parse_callback(self, body: Any) -> list[DeliveryEvent | InboundMessage]:
        items = body if isinstance(body, list) else [body]
        events: list[DeliveryEvent | InboundMessage] = []
        for item in items:
            event = _webhook_event(item)
            if event is not None:
                events.append(event)
        if not events and not any(_is_webhook(item) for item in items):
            raise CallbackShapeError("Not a JioCX webhook (no eventType, text or suggestionResponse).")
        return events


def _entity(item: dict[str, Any]) -> dict[str, Any]:
    for key in ("entity", "webhookData"):
        if isinstance(item.get(key), dict):
            merged = dict(item[key])
            if isinstance(merged.get("entity"), dict):
                merged = {**merged, **merged["entity"]}
            return merged
    return item


def _is_webhook(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    entity = _entity(item)
    return any(k in entity or k in item for k in ("eventType", "text", "suggestionResponse"))


def _webhook_event(item: Any) -> DeliveryEvent | InboundMessage | None:
    if not isinstance(item, dict):
        return None
    entity = _entity(item)
    event_type = str(entity.get("eventType") or item.get("eventType") or "").strip().upper()
    when = parse_timestamp(
        entity.get("timestamp") or entity.get("sendTime") or item.get("timestamp") or item.get("eventTime")
    )
    msg_id = str(entity.get("messageId") or entity.get("messageID") or item.get("messageId") or "")
    from_number = next((str(entity[k]) for k in FROM_KEYS if entity.get(k)), "")
    from_number = phone.from_vendor(from_number)  # JioCX numbers come without the "+"
    if event_type in EVENT_TYPES or event_type in SMS_EVENT_TYPES:
        # Without a messageId the event is kept: the callback store reports it unprocessed.
        is_sms = (
            event_type in SMS_EVENT_TYPES
            or str(entity.get("channel") or "").upper() == SMS
            or str(item.get("entityType") or "").upper() == "SMS_STATUS_EVENT"
        )
        status, code = EVENT_TYPES.get(event_type) or SMS_EVENT_TYPES[event_type]
        error = entity.get("error") if isinstance(entity.get("error"), dict) else {}
        message = (
            error.get("message") or error.get("description") or error.get("title") or entity.get("reason")
        )
        return DeliveryEvent(
            msg_id=msg_id,
            channel=SMS if is_sms else RCS,
            status=status,
            timestamp=when,
            error_code=str(error.get("code") or code) if status == FAILED else "",
            error_message=str(message or "") if status == FAILED else "",
            from_number=from_number,
        )
    response = entity.get("suggestionResponse")
    text = entity.get("text")
    if not isinstance(response, dict) and text is None:
        if event_type:  # an event type we do not know: reported unprocessed, not dropped silently
            return DeliveryEvent(msg_id=msg_id, channel=RCS, status=event_type.lower(), timestamp=when)
        return None
    postback = ""
    kind = ""
    if isinstance(response, dict):
        text = response.get("plainText", text)
        postback_obj = response.get("postBack") if isinstance(response.get("postBack"), dict) else {}
        postback = str(postback_obj.get("data") or "")
        kind = str(response.get("type") or "").upper()
    reply_to = next((str(entity[k]) for k in REPLY_TO_KEYS if entity.get(k)), "")
    if reply_to:
        clicked = kind in ("ACTION", "OPEN_URL", "URL")
        return DeliveryEvent(
            msg_id=reply_to,
            channel=RCS,
            status=CLICKED if clicked else REPLIED,
            timestamp=when,
            postback_data=postback,
            text=str(text or ""),
            from_number=from_number,
            suggestion_type=kind,
            url=str(response.get("url") or "") if isinstance(response, dict) else "",
            vendor_id=msg_id,
        )
    return InboundMessage(
        from_number=from_number,
        text=str(text or ""),
        postback_data=postback,
        timestamp=when,
        vendor_id=msg_id,
    )


def tool_settings(*, base_url: str, api_key: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(config, secrets) of a JioCX provider for the platform's own tools (the quick-start demo)."""
    return {"base_url": base_url, "click_tracking": "off", "click_domain": ""}, {"api_key": api_key}
