"""The neutral message vocabulary provider kinds speak: no vendor field names here.

Templates (templates_app) store content in this shape with `{{n}}` placeholders and render it with
values; campaigns hand the rendered content to a provider kind, which maps it to its wire shape.

Content is a plain dict (JSON-serialisable, stored as is):

    {"type": "TEXT", "text": str, "suggestions": [Suggestion, ...]}
    {"type": "RICH_CARD", "orientation": "VERTICAL"|"HORIZONTAL", "image_alignment": "LEFT"|"RIGHT",
     "card": Card}
    {"type": "CAROUSEL", "card_width": "SMALL"|"MEDIUM", "cards": [Card, ...]}       # 2..10 cards
    {"type": "MEDIA", "media": Media, "suggestions": [Suggestion, ...]}

    Card       = {"title": str, "description": str, "media": Media | None, "suggestions": [...]}
    Media      = {"url": str, "height": "SHORT"|"MEDIUM"|"TALL", "thumbnail_url": str, "content_type": str}
    Suggestion = {"type": "REPLY"|"OPEN_URL"|"DIAL_PHONE", "text": str, "postback_data": str,
                  "url": str (OPEN_URL), "phone_number": str E.164 (DIAL_PHONE)}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEXT, RICH_CARD, CAROUSEL, MEDIA = "TEXT", "RICH_CARD", "CAROUSEL", "MEDIA"
CONTENT_TYPES = (TEXT, RICH_CARD, CAROUSEL, MEDIA)
REPLY, OPEN_URL, DIAL_PHONE = "REPLY", "OPEN_URL", "DIAL_PHONE"
SUGGESTION_TYPES = (REPLY, OPEN_URL, DIAL_PHONE)


@dataclass(frozen=True)
class SmsFallback:
    body: str
    sender_id: str = ""
    dlt_template_id: str = ""
    principal_entity_id: str = ""
    params: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class TemplateRef:
    """A vendor-approved template the message comes from (sent as `rcsContent.template`)."""

    name: str
    language: str = "en"
    variables: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one recipient, ready for a provider kind to turn into a request."""

    msg_id: str  # ours, unique, <= 60 chars, identical on every retry
    to: str  # E.164 with leading "+"
    content: dict[str, Any]  # rendered neutral content (no placeholders left)
    callback_url: str
    custom_params: list[dict[str, str]] = field(default_factory=list)  # campaign parameters
    sms: SmsFallback | None = None
    template: TemplateRef | None = None
    campaign_ref: str = ""  # a campaign identifier some vendors want (JioCX campaignID)
