"""Quick-start demo: an audience of 200 contacts and a campaign sending live on the demo provider.

Numbers ending in 0 are not RCS-capable at the simulator, so those messages fall back to SMS. The
demo provider is slowed to DEMO_RATE messages/s (only when its rate is unset) so the progress bar
is visible for most of a minute. Idempotent: an existing demo campaign is left as it is.
"""

from __future__ import annotations

from typing import TextIO

from providers.models import Provider
from rcsconnect.form_errors import refuse
from templates_app.models import MessageTemplate

from .models import Audience, Campaign, Contact
from .services import CampaignError, campaign_launch
from .validation import contact_errors, stored_campaign_errors

DEMO_PROVIDER = "Demo RCS (simulator)"
DEMO_TEMPLATE = "welcome_text"
DEMO_AUDIENCE = "Demo audience"
DEMO_CAMPAIGN = "Demo welcome campaign"
DEMO_RATE = 5
DEMO_SIZE = 200
FIRST_NAMES = ["Asha", "Ravi", "Meera", "Arjun", "Divya", "Kabir", "Isha", "Rohan", "Priya", "Vikram"]
CITIES = ["Mumbai", "Pune", "Delhi", "Bengaluru", "Chennai"]


def demo_contacts(audience: Audience) -> list[Contact]:
    contacts = []
    for i in range(DEMO_SIZE):
        # +91 98765 0xxxx: valid Indian mobile numbers (phonenumbers accepts them); fictional here.
        # The import's and the API's number rule (campaigns.validation); repeats are skipped on insert.
        number, errors = contact_errors(audience=None, phone_number=f"+91987650{i:04d}")
        refuse("Demo contact", errors)
        contacts.append(
            Contact(
                audience=audience,
                phone=number,
                attributes={"first_name": FIRST_NAMES[i % len(FIRST_NAMES)], "city": CITIES[i % len(CITIES)]},
                subscribed=i % 25 != 24,  # a few unsubscribed contacts: excluded from the campaign
            )
        )
    return contacts


def load(*, simulator_url: str, stdout: TextIO) -> None:
    provider = Provider.objects.filter(nickname=DEMO_PROVIDER).first()
    template = (
        MessageTemplate.objects.filter(provider=provider, name=DEMO_TEMPLATE).first() if provider else None
    )
    if provider is None or template is None:
        stdout.write(
            f"Demo campaign skipped: needs provider {DEMO_PROVIDER!r} and template {DEMO_TEMPLATE!r}.\n"
        )
        return
    audience, created = Audience.objects.get_or_create(
        name=DEMO_AUDIENCE, defaults={"description": "200 fictional contacts for the quick start."}
    )
    if created or not audience.contacts.exists():
        Contact.objects.bulk_create(demo_contacts(audience), ignore_conflicts=True)
    if Campaign.objects.filter(name=DEMO_CAMPAIGN).exists():
        stdout.write(f"Demo campaign {DEMO_CAMPAIGN!r} already there.\n")
        return
    if provider.max_rate is None:
        Provider.objects.filter(pk=provider.pk).update(max_rate=DEMO_RATE)
    campaign = Campaign(
        name=DEMO_CAMPAIGN,
        provider=provider,
        template=template,
        audience=audience,
        placeholder_mapping=[{"source": "attribute", "value": "first_name"}],
        sms_fallback_text="Hi {{1}}, welcome to Demo Shop! Reply STOP to opt out."
        if provider.sms_fallback
        else "",
        # India: the fallback SMS names its DLT template (the demo provider registers one).
        dlt_template_id=(provider.dlt_template_ids or [""])[0] if provider.india else "",
        click_tracking=Campaign.ClickTracking.OURS,
    )
    # The builder's and the API's rules (campaigns.validation) before it is stored.
    refuse(f"Demo campaign {DEMO_CAMPAIGN!r}", stored_campaign_errors(campaign))
    campaign.save()
    try:
        campaign = campaign_launch(campaign_id=campaign.pk)
    except CampaignError as exc:
        stdout.write(f"Demo campaign created as a draft: {exc}\n")
        return
    stdout.write(f"Demo campaign {campaign.name!r}: {campaign.total_count} messages queued.\n")
