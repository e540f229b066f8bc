"""Every dashboard form alike: labels without a colon, the primary action first and Cancel a link
styled as a button beside it, in an `.actions` row (providers/, templates_app/, campaigns/,
webhooks, profile)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from campaigns.models import Segment
from rcsconnect.webhooks.models import Webhook
from tests.campaigns.conftest import make_audience, make_campaign, make_provider, make_template

pytestmark = pytest.mark.django_db


def form_pages() -> list[str]:
    provider = make_provider()
    template = make_template(provider)
    campaign = make_campaign(provider=provider, template=template)
    audience = make_audience(2)
    segment = Segment.objects.create(name="All", audience=audience, match="all")
    hook = Webhook.objects.create(name="CRM", url="https://example.com/hooks", events=["campaign.finished"])
    return [
        reverse("providers:create_kind", args=[provider.kind]),
        reverse("providers:edit", args=[provider.pk]),
        reverse("providers:send_test", args=[provider.pk]),
        reverse("providers:archive", args=[provider.pk]),
        reverse("templates_app:create"),
        reverse("templates_app:edit", args=[template.pk]),
        reverse("templates_app:clone", args=[template.pk]),
        reverse("templates_app:import"),
        reverse("templates_app:send_test", args=[template.pk]),
        reverse("templates_app:delete", args=[template.pk]),
        reverse("campaigns:create"),
        reverse("campaigns:edit", args=[campaign.pk]),
        reverse("campaigns:segment_create"),
        reverse("campaigns:segment_edit", args=[segment.pk]),
        reverse("campaigns:audience_list"),
        reverse("campaigns:audience_detail", args=[audience.pk]),
        reverse("webhooks:create"),
        reverse("webhooks:edit", args=[hook.pk]),
        reverse("profile"),
    ]


def test_forms_label_and_cancel_alike(marketer_client):
    client = marketer_client
    for url in form_pages():
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        main = html[html.index("<main") :] if "<main" in html else html
        colons = re.findall(r"<label[^>]*>([^<]*):\s*</label>", main)
        assert not colons, f"{url}: labels with a colon: {colons}"
        for cancel in re.findall(r"<(\w+)([^>]*)>\s*Cancel\s*</\1>", main):
            tag, attrs = cancel
            if 'name="cancel"' in attrs:  # the campaign's own Cancel action, not a form's way out
                continue
            assert tag == "a" and 'class="button"' in attrs, f"{url}: Cancel as <{tag}{attrs}>"
