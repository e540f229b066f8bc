"""Clone, delete (stopping campaigns), export and import through the pages, and the admin."""

from __future__ import annotations

import io
import json

import pytest
from django.urls import reverse

from campaigns.models import Audience, Campaign
from templates_app.models import MessageTemplate

from .conftest import CONTENT_TYPES, load_fixture, make_fixture_templates

pytestmark = pytest.mark.django_db


@pytest.fixture
def templates(provider):
    return make_fixture_templates(provider)


def campaign(template, name, status):
    audience, _ = Audience.objects.get_or_create(name="All")
    return Campaign.objects.create(
        name=name, provider=template.provider, template=template, audience=audience, status=status
    )


def test_clone_asks_for_a_new_name(marketer_client, templates):
    source = templates[2]
    source.status = "approved"
    source.save()
    url = reverse("templates_app:clone", args=[source.pk])
    assert 'value="carousel_copy"' in marketer_client.get(url).content.decode()
    response = marketer_client.post(url, {"name": "carousel", "language": "en"})
    assert response.status_code == 200 and "already has a template" in response.content.decode()
    response = marketer_client.post(url, {"name": "bad name", "language": "en"})
    assert "Use only letters, digits and underscores." in response.content.decode()
    response = marketer_client.post(url, {"name": "carousel_v2", "language": "en"})
    clone = MessageTemplate.objects.get(name="carousel_v2")
    assert response.url == clone.get_absolute_url()
    assert clone.content == source.content and clone.sample_values == source.sample_values
    assert clone.status == "draft" and clone.provider == source.provider


def test_delete_unused_template_removes_it(marketer_client, templates):
    url = reverse("templates_app:delete", args=[templates[0].pk])
    assert "No campaign uses this template." in marketer_client.get(url).content.decode()
    marketer_client.post(url)
    assert not MessageTemplate.all_objects.filter(pk=templates[0].pk).exists()


def test_delete_lists_campaigns_and_stops_them(marketer_client, templates):
    template = templates[1]
    running = campaign(template, "Running", "sending")
    later = campaign(template, "Later", "scheduled")
    paused = campaign(template, "Paused one", "paused")
    done = campaign(template, "Done", "completed")
    draft = campaign(template, "Draft one", "draft")
    url = reverse("templates_app:delete", args=[template.pk])
    page = marketer_client.get(url).content.decode()
    for name in ("Running", "Later", "Paused one", "Done", "Draft one"):
        assert name in page
    response = marketer_client.post(url, follow=True)
    assert "Cancelled campaigns: " in response.content.decode()
    statuses = {c.name: c.status for c in Campaign.objects.all()}
    assert statuses == {
        "Running": "cancelled",
        "Later": "cancelled",
        "Paused one": "cancelled",
        "Done": "completed",
        "Draft one": "draft",
    }
    for c in (running, later, paused):
        c.refresh_from_db()
        assert c.finished_at is not None
    # Hidden everywhere, kept for the campaigns' history; the name can be reused.
    assert not MessageTemplate.objects.filter(pk=template.pk).exists()
    done.refresh_from_db()
    assert done.template.name == "rich_card"
    assert "rich_card" not in marketer_client.get(reverse("templates_app:list")).content.decode()
    assert marketer_client.get(template.get_absolute_url()).status_code == 404
    MessageTemplate.objects.create(provider=template.provider, name="rich_card", content=template.content)
    del draft


def test_export_one_and_many_then_import_round_trip(marketer_client, templates):
    one = json.loads(marketer_client.get(reverse("templates_app:export", args=[templates[0].pk])).content)
    assert [t["name"] for t in one["templates"]] == ["text"]
    url = reverse("templates_app:export_many") + f"?id={templates[1].pk}&id={templates[3].pk}"
    some = json.loads(marketer_client.get(url).content)
    assert [t["name"] for t in some["templates"]] == ["media", "rich_card"]
    everything = marketer_client.get(reverse("templates_app:export_many"))
    assert everything["Content-Disposition"] == 'attachment; filename="templates.json"'
    document = json.loads(everything.content)
    assert len(document["templates"]) == 4
    assert document["templates"][0]["provider"] == "Echo"

    MessageTemplate.objects.all().delete()
    upload = io.BytesIO(json.dumps(document).encode())
    upload.name = "templates.json"
    response = marketer_client.post(reverse("templates_app:import"), {"file": upload}, follow=True)
    assert "Imported: 4 created, 0 updated, 0 unchanged." in response.content.decode()
    for name in CONTENT_TYPES:
        assert MessageTemplate.objects.get(name=name).content == load_fixture(name)["content"]


def test_import_with_one_bad_template_saves_none_and_lists_every_problem(marketer_client, templates):
    document = json.loads(marketer_client.get(reverse("templates_app:export_many")).content)
    MessageTemplate.objects.all().delete()
    by_name = {t["name"]: t for t in document["templates"]}  # exported as carousel, media, rich_card, text
    by_name["rich_card"]["content"]["card"]["title"] = "{{1}}" + "t" * 196
    by_name["carousel"]["name"] = "carousel-2"
    by_name["media"]["provider"] = "Nobody"
    upload = io.BytesIO(json.dumps(document).encode())
    upload.name = "t.json"
    response = marketer_client.post(reverse("templates_app:import"), {"file": upload})
    assert response.status_code == 400
    html = response.content.decode()
    assert "3 problems" in html
    assert "#3 Echo / rich_card / en: content.card.title: Title is 201 characters; the limit is 200." in html
    assert "#1 Echo / carousel-2 / en: name: Use only letters, digits and underscores." in html
    assert "#2 Nobody / media / en: provider: No provider with nickname &#x27;Nobody&#x27;." in html
    assert MessageTemplate.objects.count() == 0


def test_import_rejects_non_json(marketer_client, provider):
    upload = io.BytesIO(b"not json")
    upload.name = "t.json"
    response = marketer_client.post(reverse("templates_app:import"), {"file": upload})
    assert response.status_code == 400 and "Not a JSON file" in response.content.decode()


def test_admin_lists_and_deletes_through_the_service(admin_client, templates):
    campaign(templates[0], "Live", "sending")
    response = admin_client.get(reverse("admin:templates_app_messagetemplate_changelist"))
    assert response.status_code == 200 and "carousel" in response.content.decode()
    data = {"action": "delete_stopping_campaigns", "_selected_action": [templates[0].pk]}
    admin_client.post(reverse("admin:templates_app_messagetemplate_changelist"), data)
    assert Campaign.objects.get(name="Live").status == "cancelled"
    assert MessageTemplate.all_objects.get(pk=templates[0].pk).deleted_at is not None
    exported = admin_client.post(
        reverse("admin:templates_app_messagetemplate_changelist"),
        {"action": "export_json", "_selected_action": [templates[1].pk]},
    )
    assert json.loads(exported.content)["templates"][0]["name"] == "rich_card"


def test_admin_change_form_applies_the_limits(admin_client, templates):
    template = templates[0]
    url = reverse("admin:templates_app_messagetemplate_change", args=[template.pk])
    assert admin_client.get(url).status_code == 200
    content = dict(template.content, text="x" * 1001)
    data = {
        "provider": template.provider.pk,
        "name": template.name,
        "language": "en",
        "format": "TEXT",
        "content": json.dumps(content),
        "sample_values": json.dumps(template.sample_values),
        "status": "draft",
        "rejection_reason": "",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert "text: Text is 1001 characters; the limit is 1000." in response.content.decode()
    template.refresh_from_db()
    assert len(template.content["text"]) < 1000
    data["content"] = json.dumps(dict(template.content, text="Hi {{1}} {{2}}"))
    assert admin_client.post(url, data).status_code == 302
    template.refresh_from_db()
    assert template.content["text"] == "Hi {{1}} {{2}}"
