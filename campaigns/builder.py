"""The campaign builder's live panel: the message as a sample contact would get it, and the estimate.

Both are worked out from the builder's fields as they are (before saving), by the same code the
engine (`engine.build`) and the campaign page (`services.campaign_estimate`) use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any

from templates_app.rendering import RenderError, render_content

from . import sendrules
from .engine.build import BuildError, placeholder_value
from .forms import CampaignForm
from .models import Audience, Campaign, Contact
from .services import Estimate, campaign_estimate


@dataclass
class Live:
    contact: Contact | None = None
    content: dict[str, Any] | None = None  # the template's content with the contact's values
    problems: list[str] = field(default_factory=list)  # why the preview is incomplete
    estimate: Estimate | None = None
    india: bool = False  # the audience holds +91 numbers: the India preset is offered
    india_label: str = sendrules.INDIA_PRESET_LABEL


def sample_contact(audience: Audience) -> Contact | None:
    """The audience's first contact (a subscribed one when there is one): the preview's recipient."""
    contacts = Contact.objects.filter(audience=audience).order_by("id")
    return contacts.filter(subscribed=True).first() or contacts.first()


def live(form: CampaignForm) -> Live:
    result = Live()
    provider, audience = chosen(form, "provider"), chosen(form, "audience")
    template = form.template_obj
    if provider is not None and audience is not None:
        raw = str(form["holdout_percent"].value() or "0")
        holdout = int(raw) if raw.isdigit() else 0  # out of range: the form says so beside the field
        draft = Campaign(
            provider=provider,
            audience=audience,
            template=template,
            holdout_percent=holdout,
            **_rules_entered(form),
        )
        result.estimate = campaign_estimate(campaign=draft)
        result.india = sendrules.audience_has_india(Contact.objects.filter(audience=audience))
    if template is None:
        return result
    result.contact = sample_contact(audience) if audience is not None else None
    attributes = result.contact.attributes if result.contact else {}
    values = []
    for n, entry in enumerate(form.mapping(), start=1):
        if not entry["value"] or (entry["source"] == "attribute" and result.contact is None):
            values.append(f"{{{{{n}}}}}")  # not mapped yet, or no contact to take it from: shown as is
            continue
        try:
            values.append(placeholder_value(n, entry, attributes))
        except BuildError as exc:
            result.problems.append(f"{exc} The message to this contact would fail.")
            values.append(f"{{{{{n}}}}}")
    try:
        result.content = render_content(template.content or {}, values)
    except RenderError as exc:
        result.problems.append(str(exc))
        result.content = template.content
    return result


def _rules_entered(form: CampaignForm) -> dict[str, Any]:
    """The send window and rule choice as entered (unreadable values: left out)."""
    entered: dict[str, Any] = {}
    for name in ("window_start", "window_end"):
        try:
            entered[name] = time.fromisoformat(str(form[name].value() or ""))
        except ValueError:
            entered[name] = None
    if sendrules.valid_zone(str(form["window_timezone"].value() or "")):
        entered["window_timezone"] = str(form["window_timezone"].value())
    rules = str(form["send_rules"].value() or "")
    entered["send_rules"] = rules if rules in Campaign.Rules.values else Campaign.Rules.CATEGORY
    return entered


def chosen(form: CampaignForm, name: str):
    """The object picked in a select of the (possibly unsaved) form, or None."""
    raw = str(form[name].value() or "")
    if not raw.isdigit():
        return None
    return form.fields[name].queryset.filter(pk=raw).first()
