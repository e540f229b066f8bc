"""The `data` of the webhook events campaigns emit (docs/webhooks.md, "Events"): one builder per event,
so the callback applier, the engine and completion describe a message or a campaign the same way."""

from __future__ import annotations

from datetime import datetime

from .models import Campaign, InboxMessage, Message
from .state import COUNTED, counter_field


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def message_status_changed(message: Message, previous: str, at: datetime) -> dict:
    return {
        "message_id": message.pk,
        "msg_id": message.msg_id,
        "campaign_id": message.campaign_id,
        "provider_id": message.provider_id,
        "to": message.to,
        "status": message.status,
        "previous_status": previous,
        "rcs_status": message.rcs_status,
        "sms_status": message.sms_status,
        "delivered_via": message.delivered_via,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "at": _iso(at),
    }


def reply_received(entry: InboxMessage, message: Message | None) -> dict:
    return {
        "provider_id": entry.provider_id,
        "phone": entry.phone,
        "text": entry.text,
        "postback_data": entry.postback_data,
        "action": entry.action,  # "opt_out" / "opt_in" when the reply was STOP / START
        "contact_id": entry.contact_id,
        "in_reply_to": {
            "message_id": message.pk,
            "msg_id": message.msg_id,
            "campaign_id": message.campaign_id,
        }
        if message
        else None,
        "received_at": _iso(entry.created_at),
    }


def campaign_finished(campaign: Campaign) -> dict:
    return {
        "campaign_id": campaign.pk,
        "name": campaign.name,
        "status": campaign.status,
        "finished_at": _iso(campaign.finished_at),
        "counts": {"total": campaign.total_count}
        | {name: getattr(campaign, counter_field(name)) for name in COUNTED},
    }
