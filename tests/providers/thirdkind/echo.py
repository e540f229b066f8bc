"""A test-only provider kind: proves a third vendor is one module plus one registry line."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms

from providers.events import CallbackShapeError, DeliveryEvent
from providers.kinds.base import Outcome, PreparedRequest, ProviderKind, SendResult


class EchoKind(ProviderKind):
    slug = "echo"
    name = "Echo (test)"
    config_fields: ClassVar[dict[str, forms.Field]] = {"url": forms.URLField(assume_scheme="https")}
    secret_fields: ClassVar[dict[str, forms.Field]] = {"token": forms.CharField(required=False)}

    def build_request(self, message) -> PreparedRequest:
        body = {"id": message.msg_id, "to": message.to, "text": message.content.get("text", "")}
        return PreparedRequest(
            "POST", self.provider.config["url"], {"Content-Type": "application/json"}, body
        )

    def auth_headers(self, session, *, refresh: bool = False) -> dict[str, str]:
        return {"X-Echo-Token": self.provider.secrets.get("token", "")}

    def classify(self, response, error=None) -> SendResult:
        if response is not None and response.ok:
            return SendResult(Outcome.SENT, vendor_id=response.json().get("echo", ""))
        return SendResult(Outcome.RETRY, error_code="echo")

    def parse_callback(self, body: Any):
        if not isinstance(body, dict) or "id" not in body:
            raise CallbackShapeError("not an echo")
        return [DeliveryEvent(msg_id=body["id"], channel="RCS", status=body.get("state", "delivered"))]
