"""Turning a Message row into the neutral OutboundMessage a provider kind sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from campaigns.models import Campaign, Message
from providers.content import OutboundMessage, SmsFallback, TemplateRef
from providers.models import Provider


class BuildError(ValueError):
    """The message cannot be built (a placeholder without a value): it fails, it is not retried."""


def placeholder_values(mapping: list[dict[str, str]], attributes: dict[str, Any] | None) -> list[str]:
    """Values for {{1}}, {{2}}, ...: mapping[n-1] is {"source": "attribute"|"literal", "value": str}."""
    return [placeholder_value(n, entry, attributes) for n, entry in enumerate(mapping or [], start=1)]


def placeholder_value(n: int, entry: dict[str, str] | None, attributes: dict[str, Any] | None) -> str:
    """The value of {{n}} for a contact with these attributes (BuildError when the contact has none)."""
    attributes = attributes or {}
    source, value = (entry or {}).get("source", "literal"), (entry or {}).get("value", "")
    if source == "attribute":
        if value not in attributes or attributes[value] in (None, ""):
            raise BuildError(f"Contact has no value for attribute '{value}' ({{{{{n}}}}}).")
        return str(attributes[value])
    return str(value)


def render(content: dict[str, Any], values: list[str]) -> dict[str, Any]:
    from templates_app.rendering import RenderError, render_content

    try:
        return render_content(content, values)
    except RenderError as exc:
        raise BuildError(str(exc)) from exc


def render_text(text: str, values: list[str]) -> str:
    from templates_app.rendering import RenderError, render_string

    try:
        return render_string(text, values)
    except RenderError as exc:
        raise BuildError(str(exc)) from exc


@dataclass
class CampaignContext:
    """What every message of one campaign shares, loaded once per dispatch loop."""

    campaign: Campaign
    provider: Provider
    content: dict[str, Any]
    template_ref: TemplateRef | None
    mapping: list[dict[str, str]] = field(default_factory=list)
    # An A/B campaign's variants: label -> (content, template ref, mapping) (campaigns.experiments).
    variants: dict[str, tuple[dict[str, Any], TemplateRef, list]] = field(default_factory=dict)
    # The campaign's send rules (campaigns.sendrules.Rules), None when none applies.
    rules: Any = None

    @classmethod
    def load(cls, campaign: Campaign) -> CampaignContext:
        template = campaign.template
        ref = TemplateRef(name=template.name, language=template.language)
        ctx = cls(campaign, campaign.provider, template.content, ref, campaign.placeholder_mapping or [])
        for variant in campaign.variants.select_related("template"):
            t = variant.template
            ref = TemplateRef(name=t.name, language=t.language)
            ctx.variants[variant.label] = (t.content, ref, variant.placeholder_mapping or [])
        return ctx

    def of(self, variant: str) -> tuple[dict[str, Any], TemplateRef | None, list]:
        """The content, template reference and mapping a message of `variant` is built from."""
        return self.variants.get(variant) or (self.content, self.template_ref, self.mapping)


def outbound(
    message: Message, ctx: CampaignContext | None, provider: Provider, *, callback_url: str | None = None
) -> OutboundMessage:
    """The OutboundMessage for `message` (campaign messages are rendered here, at send time).

    `callback_url` saves a URL reverse per message when the caller already knows the provider's.
    """
    callback_url = callback_url or provider.callback_url
    if ctx is None:  # transactional / inbox: content rendered when the message was created
        return OutboundMessage(
            msg_id=message.msg_id,
            to=message.to,
            content=message.content or {},
            callback_url=callback_url,
        )
    campaign = ctx.campaign
    attributes = message.contact.attributes if message.contact_id and message.contact else {}
    source, ref, mapping = ctx.of(getattr(message, "variant", "") or "")
    values = placeholder_values(mapping, attributes)
    content = render(source, values)
    if campaign.click_tracking == Campaign.ClickTracking.OURS:
        from campaigns.clicks import shorten_urls  # owner: callbacks engineer

        content = shorten_urls(content, message=message, template=source)
    sms = None
    if message.sms_fallback:
        sms = SmsFallback(
            body=render_text(campaign.sms_fallback_text, values),
            sender_id=provider.sms_sender_id,
            dlt_template_id=campaign.dlt_template_id if provider.india else "",
            principal_entity_id=provider.principal_entity_id if provider.india else "",
            params=list(provider.sms_params or []),
        )
    template = TemplateRef(name=ref.name, language=ref.language, variables=values) if ref else None
    return OutboundMessage(
        msg_id=message.msg_id,
        to=message.to,
        content=content,
        callback_url=callback_url,
        custom_params=[{"name": "campaign", "value": str(campaign.pk)}],
        sms=sms,
        template=template,
        campaign_ref=campaign.msg_prefix or str(campaign.pk),
    )
