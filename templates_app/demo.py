"""Demo templates for the quick start, on the simulator-backed demo provider (idempotent)."""

from __future__ import annotations

from typing import TextIO

from django.conf import settings
from django.templatetags.static import static

from providers.models import Provider
from rcsconnect.form_errors import refuse

from .models import MessageTemplate
from .validation import template_errors, with_defaults

DEMO_PROVIDER = "Demo RCS (simulator)"
# Demo images ship in static/demo/ (no external host: the demo works offline). `load` turns this
# prefix into an absolute URL on RCS_PUBLIC_BASE_URL, which vendors can fetch.
STATIC_MEDIA = "static:"

DEMO_TEMPLATES = [
    {
        "name": "welcome_text",
        "format": "TEXT",
        "status": "approved",
        "sample_values": ["Asha"],
        "content": {
            "type": "TEXT",
            "text": "Hi {{1}} 👋 Welcome to *Demo Shop*! Reply _STOP_ to opt out.",
            "suggestions": [
                {"type": "REPLY", "text": "Show offers", "postback_data": "offers"},
                {
                    "type": "OPEN_URL",
                    "text": "Visit shop",
                    "postback_data": "visit",
                    "url": "https://example.com/shop",
                    "url_kind": "tracked",
                },
                {
                    "type": "DIAL_PHONE",
                    "text": "Call us",
                    "postback_data": "call",
                    "phone_number": "+14155550123",
                },
            ],
        },
    },
    {
        "name": "sale_card",
        "format": "RICH_CARD",
        "status": "approved",
        "sample_values": ["30%", "SALE30"],
        "content": {
            "type": "RICH_CARD",
            "orientation": "VERTICAL",
            "card": {
                "title": "Weekend sale: {{1}} off",
                "description": "Use code ```{{2}}``` at checkout. Ends Sunday.",
                "media": {
                    "url": STATIC_MEDIA + "demo/sale.png",
                    "height": "MEDIUM",
                    "thumbnail_url": "",
                    "content_type": "image/png",
                },
                "suggestions": [
                    {
                        "type": "OPEN_URL",
                        "text": "Shop the sale",
                        "postback_data": "sale",
                        "url": "https://example.com/sale",
                        "url_kind": "tracked",
                    },
                    {"type": "REPLY", "text": "Not now", "postback_data": "later"},
                ],
            },
        },
    },
    {
        "name": "new_arrivals",
        "format": "CAROUSEL",
        "status": "draft",
        "sample_values": ["Asha"],
        "content": {
            "type": "CAROUSEL",
            "card_width": "MEDIUM",
            "cards": [
                {
                    "title": title,
                    "description": description,
                    "media": {
                        "url": f"{STATIC_MEDIA}demo/{slug}.png",
                        "height": "SHORT",
                        "thumbnail_url": "",
                        "content_type": "image/png",
                    },
                    "suggestions": [
                        {
                            "type": "OPEN_URL",
                            "text": "View",
                            "postback_data": f"view_{slug}",
                            "url": f"https://example.com/p/{slug}",
                            "url_kind": "tracked",
                        },
                        {"type": "REPLY", "text": "Save for later", "postback_data": f"save_{slug}"},
                    ],
                }
                for slug, title, description in [
                    ("shoes", "Shoes for {{1}}", "Light running shoes."),
                    ("bag", "Everyday bag", 'Fits a 14" laptop.'),
                    ("hat", "Sun hat", "_New colours_ this week."),
                ]
            ],
        },
    },
]

# The demo simulator reports each demo template's own status (its default rule would approve every
# name), so `sync_templates --provider "Demo RCS (simulator)"` finds them as they are.
SIMULATOR_KNOBS = {"template_statuses": {spec["name"]: spec["status"] for spec in DEMO_TEMPLATES}}


def load(*, simulator_url: str, stdout: TextIO) -> None:
    provider = Provider.objects.filter(nickname=DEMO_PROVIDER).first()
    if provider is None:
        stdout.write(f"Demo templates skipped: no provider {DEMO_PROVIDER!r}.\n")
        return
    created = 0
    for spec in DEMO_TEMPLATES:
        if MessageTemplate.objects.filter(provider=provider, name=spec["name"], language="en").exists():
            continue
        spec = with_static_media(spec)
        content = with_defaults(spec["content"])
        # The builder's and the API's rules (templates_app.validation), not a shortcut around them.
        refuse(
            f"Demo template {spec['name']!r}",
            template_errors(
                content=content,
                samples=spec["sample_values"],
                name=spec["name"],
                provider=provider,
                language="en",
                fmt=spec["format"],
            ),
        )
        MessageTemplate.objects.create(provider=provider, language="en", **{**spec, "content": content})
        created += 1
    stdout.write(f"Demo templates: {created} created, {len(DEMO_TEMPLATES) - created} already there.\n")


def with_static_media(value):
    """`value` with every "static:<path>" string made an absolute URL of that static file."""
    if isinstance(value, dict):
        return {k: with_static_media(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_static_media(v) for v in value]
    if isinstance(value, str) and value.startswith(STATIC_MEDIA):
        return settings.PUBLIC_BASE_URL + static(value.removeprefix(STATIC_MEDIA))
    return value
