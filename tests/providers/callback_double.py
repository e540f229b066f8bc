"""A minimal provider kind for endpoint tests: its own tiny callback shape, independent of any vendor.

{"events": [{"msgId", "status", "channel"?, "ts"?, "code"?, "text"?, "postback"?, "url"?}
            | {"from", "text"?, "postback"?, "ts"?, "inReplyTo"?}]}
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from providers.events import CallbackShapeError, DeliveryEvent, InboundMessage
from providers.kinds import registry
from providers.kinds.base import ProviderKind
from providers.models import Provider

SLUG = "test_double"


def _ts(value) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if value is not None else None


class DoubleKind(ProviderKind):
    slug = SLUG
    name = "Test double"

    def parse_callback(self, body):
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise CallbackShapeError("expected {'events': [...]}")
        out = []
        for e in body["events"]:
            if "msgId" not in e:
                out.append(
                    InboundMessage(
                        from_number=e.get("from", ""),
                        text=e.get("text", ""),
                        postback_data=e.get("postback", ""),
                        timestamp=_ts(e.get("ts")),
                        in_reply_to=e.get("inReplyTo", ""),
                    )
                )
                continue
            out.append(
                DeliveryEvent(
                    msg_id=e["msgId"],
                    channel=e.get("channel", "RCS"),
                    status=e["status"],
                    timestamp=_ts(e.get("ts")),
                    error_code=str(e.get("code", "")),
                    text=e.get("text", ""),
                    postback_data=e.get("postback", ""),
                    url=e.get("url", ""),
                    from_number=e.get("from", ""),
                )
            )
        return out


@pytest.fixture
def double_kind(settings):
    settings.RCS_PROVIDER_KINDS = [f"{__name__}.DoubleKind"]
    registry.reset()
    yield DoubleKind
    registry.reset()


@pytest.fixture
def double_provider(db, double_kind) -> Provider:
    return Provider.objects.create(kind=SLUG, nickname="Double", sender_id="double")
