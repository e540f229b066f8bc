"""manage.py sync_templates: file round trip, all-or-nothing import, status refresh, exit codes."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from templates_app.models import MessageTemplate

from .conftest import make_fixture_templates, run_sync_templates

pytestmark = pytest.mark.django_db


run = run_sync_templates


@pytest.fixture
def four(provider):
    make_fixture_templates(provider, status="submitted")


def test_round_trip_through_a_file(four, tmp_path):
    path = tmp_path / "templates.json"
    code, out, _ = run("--to-file", str(path))
    assert code == 0 and "Total: 4 written" in out
    exported = path.read_text()
    code, out, _ = run("--to-file", str(path))
    assert "Total: 4 unchanged" in out  # idempotent: the file is not rewritten

    before = {t.name: (t.content, t.sample_values, t.status) for t in MessageTemplate.objects.all()}
    MessageTemplate.objects.all().delete()
    code, out, _ = run("--from-file", str(path))
    assert code == 0 and "Total: 4 created" in out
    assert {t.name: (t.content, t.sample_values, t.status) for t in MessageTemplate.objects.all()} == before
    code, out, _ = run("--from-file", str(path))
    assert code == 0 and "Total: 4 unchanged" in out
    code, out, _ = run("--to-file", str(path))
    assert path.read_text() == exported


def test_a_file_with_one_bad_template_saves_none_and_exits_1(four, tmp_path):
    path = tmp_path / "templates.json"
    run("--to-file", str(path))
    document = json.loads(path.read_text())
    MessageTemplate.objects.all().delete()
    document["templates"][0]["content"]["cards"][0]["media"]["height"] = "TALL"  # carousel
    path.write_text(json.dumps(document))
    code, out, err = run("--from-file", str(path))
    assert code == 1
    assert MessageTemplate.objects.count() == 0
    assert "Tall media is not allowed in carousels" in out and "Nothing imported" in err
    assert "Total: 1 error, 3 skipped" in out
    code, out, err = run("--from-file", str(path), "--partial")
    assert code == 1 and MessageTemplate.objects.count() == 3 and "Total: 3 created, 1 error" in out


def test_status_refresh_from_the_vendor(four, echo_kind):
    echo_kind.vendor_statuses = {
        "text": ("approved", ""),
        "rich_card": ("rejected", "Image is blurry"),
        "carousel": ("submitted", ""),
        # "media" is unknown to the vendor: reported, the others still update
    }
    code, out, err = run("--provider", "Echo")
    assert code == 1
    rows = {line.split()[3]: line for line in out.splitlines() if line.startswith("status")}
    assert "submitted -> approved" in rows["text"]
    assert "submitted -> rejected (Image is blurry)" in rows["rich_card"]
    assert "unchanged" in rows["carousel"]
    assert "The vendor does not know this template." in rows["media"]
    statuses = dict(MessageTemplate.objects.values_list("name", "status"))
    assert statuses == {
        "text": "approved",
        "rich_card": "rejected",
        "carousel": "submitted",
        "media": "submitted",
    }
    assert MessageTemplate.objects.get(name="rich_card").rejection_reason == "Image is blurry"
    echo_kind.vendor_statuses["media"] = ("approved", "")
    code, out, _ = run("--provider", "Echo")
    assert code == 0 and "Total: 3 unchanged, 1 updated" in out


def test_bad_arguments():
    with pytest.raises(CommandError, match="at least one"):
        call_command("sync_templates")
    with pytest.raises(CommandError, match="No provider"):
        call_command("sync_templates", "--provider", "Nope")


def test_status_refresh_over_http_from_the_simulator(four, provider, simulator):
    provider.config = {"templates_url": f"{simulator.url}/templates/status"}
    provider.save()
    simulator.configure(
        template_statuses={
            "text": "approved",
            "rich_card": {"status": "rejected", "reason": "Logo too small"},
        }
    )
    MessageTemplate.objects.filter(name="media").update(name="rej_media")  # the simulator rejects rej*
    code, out, _ = run("--provider", "Echo")
    assert code == 0, out
    statuses = dict(MessageTemplate.objects.values_list("name", "status"))
    assert statuses == {
        "text": "approved",
        "rich_card": "rejected",
        "carousel": "approved",
        "rej_media": "rejected",
    }
    assert MessageTemplate.objects.get(name="rich_card").rejection_reason == "Logo too small"
    assert any(r["path"].startswith("/templates/status") for r in simulator.requests())
    code, out, _ = run("--provider", "Echo")
    assert code == 0 and "Total: 4 unchanged" in out  # idempotent


def test_status_refresh_vendor_down_fails_every_template_but_exits_cleanly(four, provider, simulator):
    provider.config = {"templates_url": "http://127.0.0.1:9/templates/status"}  # nothing listens on port 9
    provider.save()
    code, out, _ = run("--provider", "Echo")
    assert code == 1 and "Total: 4 error" in out and "ConnectionError" in out
    assert set(MessageTemplate.objects.values_list("status", flat=True)) == {"submitted"}
