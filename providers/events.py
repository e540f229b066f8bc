"""Normalised events: what a provider kind turns callback bodies into, whatever the vendor shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

RCS, SMS = "RCS", "SMS"
QUEUED, SENT, DELIVERED, READ, FAILED, CLICKED, REPLIED = (
    "queued",
    "sent",
    "delivered",
    "read",
    "failed",
    "clicked",
    "replied",
)
STATUSES = (QUEUED, SENT, DELIVERED, READ, FAILED, CLICKED, REPLIED)


@dataclass(frozen=True)
class DeliveryEvent:
    """A status or engagement event about one message we sent (identified by our msgId)."""

    msg_id: str
    channel: str  # RCS | SMS
    status: str  # one of STATUSES
    timestamp: datetime | None = None
    error_code: str = ""
    error_message: str = ""
    url: str = ""  # clicked: the URL (or short URL) followed
    postback_data: str = ""  # replied via a suggestion tap
    text: str = ""  # replied: free text or suggestion label
    from_number: str = ""
    suggestion_type: str = ""
    vendor_id: str = ""


@dataclass(frozen=True)
class InboundMessage:
    """A user message that does not name one of our msgIds (matched to a conversation by number)."""

    from_number: str
    text: str = ""
    postback_data: str = ""
    timestamp: datetime | None = None
    in_reply_to: str = ""  # our msgId or the vendor's message id, when the vendor says
    vendor_id: str = ""


class CallbackShapeError(ValueError):
    """The callback body is not a shape this provider kind recognises (answered with HTTP 400)."""
