from __future__ import annotations

import pytest

from templates_app.demo import DEMO_TEMPLATES, with_static_media
from templates_app.limits import validate_content
from templates_app.models import MessageTemplate
from templates_app.transfer import templates_export, templates_import

from .conftest import CONTENT_TYPES, load_fixture

pytestmark = pytest.mark.django_db


def document(provider_name="Echo"):
    return {
        "templates": [
            {
                "provider": provider_name,
                "name": name,
                "language": "en",
                "content": load_fixture(name)["content"],
                "sample_values": load_fixture(name)["values"],
            }
            for name in CONTENT_TYPES
        ]
    }


def test_import_is_idempotent_and_updates_by_key(provider):
    first = templates_import(document())
    assert first.saved and first.count("created") == 4
    again = templates_import(document())
    assert again.count("unchanged") == 4
    changed = document()
    changed["templates"][0]["content"]["text"] = "New text {{1}} {{2}}"
    changed["templates"][0]["status"] = "approved"
    result = templates_import(changed)
    assert [r.action for r in result.rows] == ["updated", "unchanged", "unchanged", "unchanged"]
    assert result.rows[0].detail == "content, status"
    assert MessageTemplate.objects.get(name="text").status == "approved"


def test_one_bad_template_saves_none_unless_partial(provider):
    bad = document()
    bad["templates"][2]["content"]["cards"] = bad["templates"][2]["content"]["cards"][:1]
    bad["templates"].append(dict(bad["templates"][0]))  # duplicate key
    result = templates_import(bad)
    assert not result.saved and MessageTemplate.objects.count() == 0
    assert [str(p) for p in result.problems] == [
        "#3 Echo / carousel / en: content.cards: A carousel has 2 to 10 cards (1 given).",
        "#5 Echo / text / en: name: Same provider, name and language as #1.",
    ]
    assert [r.action for r in result.rows] == ["skipped", "skipped", "error", "skipped", "error"]
    partial = templates_import(bad, partial=True)
    assert partial.saved and MessageTemplate.objects.count() == 3


def test_import_checks_samples_format_and_status(provider):
    doc = document()
    doc["templates"][0]["sample_values"] = ["only one"]
    doc["templates"][1]["format"] = "TEXT"
    doc["templates"][2]["status"] = "live"
    doc["templates"][3] = "nonsense"
    result = templates_import(doc)
    messages = [str(p) for p in result.problems]
    assert "#1 Echo / text / en: sample_values.1: Enter a sample value for {{2}}." in messages
    assert (
        "#2 Echo / rich_card / en: format: Format 'TEXT' does not match the content type 'RICH_CARD'."
        in messages
    )
    assert "#3 Echo / carousel / en: status: Use one of draft, submitted, approved, rejected." in messages
    assert "#4 ?: A template must be a JSON object." in messages
    assert templates_import({"templates": 5}).problems[0].message.startswith("Expected")


def test_export_shape(provider):
    templates_import(document())
    exported = templates_export(MessageTemplate.objects.order_by("name"))
    assert exported["format"] == "rcsconnect.templates" and exported["version"] == 1
    assert exported["templates"][0] == {
        "provider": "Echo",
        "name": "carousel",
        "language": "en",
        "format": "CAROUSEL",
        "status": "draft",
        "rejection_reason": "",
        "content": load_fixture("carousel")["content"],
        "sample_values": load_fixture("carousel")["values"],
    }


@pytest.mark.parametrize("spec", DEMO_TEMPLATES, ids=lambda s: s["name"])
def test_demo_templates_are_valid(spec):
    content = with_static_media(spec["content"])  # as `load` stores it: shipped images, absolute URLs
    assert validate_content(content, sample_values=spec["sample_values"])[0] == {}


def test_demo_load_is_idempotent_and_skips_without_provider(db, echo_kind):
    import io

    from providers.models import Provider
    from templates_app import demo

    out = io.StringIO()
    demo.load(simulator_url="http://127.0.0.1:1", stdout=out)
    assert "skipped" in out.getvalue()
    Provider.objects.create(kind="tmpl_echo", nickname=demo.DEMO_PROVIDER, sender_id="demo")
    demo.load(simulator_url="http://127.0.0.1:1", stdout=out)
    demo.load(simulator_url="http://127.0.0.1:1", stdout=out)
    assert MessageTemplate.objects.count() == 3
    assert "0 created, 3 already there" in out.getvalue()
