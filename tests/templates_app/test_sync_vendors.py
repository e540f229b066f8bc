"""sync_templates --provider with the real provider kinds, over HTTP against the vendor simulator."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache

from providers import demo as provider_demo
from providers.auth import _cache_key, basic_header
from providers.models import Provider
from rcsconnect.demo import demo_simulator_knobs
from rcsconnect.management.commands.quickstart import simulator_flags
from templates_app import demo as template_demo
from templates_app.models import MessageTemplate

from .conftest import CONTENT_TYPES, make_fixture_templates, run_sync_templates

pytestmark = pytest.mark.django_db

AUTH = {
    "none": ({}, {}),
    "basic": ({"username": "sim-user"}, {"password": "sim-pass"}),
    "oauth2": ({"client_id": "sim-client"}, {"client_secret": "sim-secret"}),
}
SIM_AUTH = {"none": "none", "basic": "basic", "oauth2": "oauth"}


run = run_sync_templates


def rows(out):
    """template name -> its row of the summary table (status step only)."""
    return {line.split(" / ")[1]: line for line in out.splitlines() if line.startswith("status")}


def generic_at(url, auth="none", **config):
    extra, secrets = AUTH[auth]
    config = {
        "method": "POST",
        "endpoint": f"{url}/generic/messages",
        "auth_type": auth,
        "template_status_url": f"{url}/templates/status",
        **extra,
        **config,
    }
    if auth == "oauth2":
        config["client_url"] = f"{url}/oauth/token"
    return Provider.objects.create(
        kind="generic_rcs", nickname=f"Sim {auth}", sender_id="sim-sender", config=config, secrets=secrets
    )


def add_templates(provider, status="draft"):
    make_fixture_templates(provider, status=status)


def status_requests(simulator):
    return [r for r in simulator.requests(500) if r["path"] == "/templates/status"]


@pytest.fixture
def no_cached_tokens(db):
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize("auth", ["basic", "oauth2"])
def test_generic_rcs_statuses_applied_idempotent_and_unknown_reported(simulator, no_cached_tokens, auth):
    simulator.configure(
        auth=SIM_AUTH[auth],
        template_statuses={
            "text": "approved",
            "rich_card": {"status": "rejected", "reason": "Logo too small"},
            "carousel": "pending",  # the vendor's word for submitted
            "media": "unknown",  # left out of the answer: the vendor has no such template
        },
    )
    provider = generic_at(simulator.url, auth)
    add_templates(provider)

    code, out, err = run("--provider", provider.nickname)

    assert code == 1 and "1 row(s) failed" in err
    by_name = rows(out)
    assert "updated" in by_name["text"] and "draft -> approved" in by_name["text"]
    assert "draft -> rejected (Logo too small)" in by_name["rich_card"]
    assert "draft -> submitted" in by_name["carousel"]
    assert "error" in by_name["media"] and "The vendor does not know this template." in by_name["media"]
    assert "Total: 1 error, 3 updated" in out
    assert dict(MessageTemplate.objects.values_list("name", "status")) == {
        "text": "approved",
        "rich_card": "rejected",
        "carousel": "submitted",
        "media": "draft",
    }
    assert MessageTemplate.objects.get(name="rich_card").rejection_reason == "Logo too small"
    assert MessageTemplate.objects.get(name="text").status_checked_at is not None

    (request,) = status_requests(simulator)  # one batched request, authenticated like a send
    assert sorted(request["query"].split("&")) == sorted(f"name={n}" for n in CONTENT_TYPES)
    authorization = request["headers"]["authorization"]
    if auth == "basic":
        assert authorization == basic_header("sim-user", "sim-pass")
    else:
        assert authorization.startswith("Bearer ") and simulator.stats()["tokens_issued"] == 1

    simulator.configure(template_statuses={"media": "approved"})  # the others follow the name rule
    code, out, _ = run("--provider", provider.nickname)
    assert code == 0, out
    assert "Total: 1 unchanged, 3 updated" in out  # rich_card, carousel: the name rule approves them
    code, out, _ = run("--provider", provider.nickname)
    assert code == 0 and "Total: 4 unchanged" in out  # idempotent
    assert set(MessageTemplate.objects.values_list("status", flat=True)) == {"approved"}
    assert set(MessageTemplate.objects.values_list("rejection_reason", flat=True)) == {""}


def test_vendor_5xx_for_one_template_does_not_stop_the_others(simulator):
    simulator.configure(template_statuses={"rich_card": "error"})  # any request naming it answers 500
    provider = generic_at(simulator.url)
    add_templates(provider, status="submitted")

    code, out, _ = run("--provider", provider.nickname)

    assert code == 1
    by_name = rows(out)
    assert "HTTP 500" in by_name["rich_card"] and "simulated internal error" in by_name["rich_card"]
    assert "Total: 1 error, 3 updated" in out
    assert dict(MessageTemplate.objects.values_list("name", "status")) == {
        "text": "approved",
        "rich_card": "submitted",
        "carousel": "approved",
        "media": "approved",
    }
    # The refused batch, then one request per name.
    assert [r["status"] for r in status_requests(simulator)] == [500, 200, 200, 500, 200]


def test_refused_credentials_fail_the_batch_once_with_a_clear_message(simulator):
    simulator.configure(auth="basic")
    provider = generic_at(simulator.url, "basic")
    provider.secrets = {"password": "wrong"}
    provider.save()
    add_templates(provider, status="submitted")

    code, out, _ = run("--provider", provider.nickname)

    assert code == 1 and "Total: 4 error" in out
    assert "AuthError: The template status endpoint refused our credentials (HTTP 401" in out
    assert len(status_requests(simulator)) == 1  # asking name by name cannot help
    assert set(MessageTemplate.objects.values_list("status", flat=True)) == {"submitted"}


def test_expired_oauth_token_is_refreshed_once(simulator, no_cached_tokens):
    simulator.configure(auth="oauth")
    provider = generic_at(simulator.url, "oauth2")
    add_templates(provider)
    # A token we cached that the vendor no longer accepts (it expired at the vendor's end).
    cache.set(_cache_key(provider), {"access_token": "expired", "refresh_at": time.time() + 600}, 600)

    code, out, _ = run("--provider", provider.nickname)

    assert code == 0, out
    assert [r["status"] for r in status_requests(simulator)] == [401, 200]
    assert simulator.stats()["tokens_issued"] == 1
    assert set(MessageTemplate.objects.values_list("status", flat=True)) == {"approved"}


def test_jiocx_has_no_template_status_endpoint(simulator):
    provider = Provider.objects.create(
        kind="jiocx",
        nickname="Jio",
        sender_id="agent",
        config={"base_url": f"{simulator.url}/jiocx"},
        secrets={"api_key": "sim-api-key"},
    )
    add_templates(provider)

    code, out, err = run("--provider", "Jio")

    assert code == 1 and "1 row(s) failed" in err
    assert "Jio (all templates)" in out and "JioCX has no template status endpoint." in out
    assert "Total: 1 error" in out
    assert status_requests(simulator) == []
    assert set(MessageTemplate.objects.values_list("status", flat=True)) == {"draft"}


def test_generic_rcs_without_a_status_url_says_so(simulator, tmp_path):
    provider = generic_at(simulator.url, template_status_url="")
    add_templates(provider)
    path = tmp_path / "out.json"

    code, out, _ = run("--provider", provider.nickname, "--to-file", str(path))

    assert code == 1
    assert "No template status URL is set for this provider" in out
    assert "Total: 1 error, 4 written" in out  # the other steps still run
    assert status_requests(simulator) == []


def test_quick_start_demo_syncs_out_of_the_box(simulator, no_cached_tokens):
    simulator.configure(auth="oauth", **demo_simulator_knobs())
    provider_demo.load(simulator_url=simulator.url, stdout=io.StringIO())
    template_demo.load(simulator_url=simulator.url, stdout=io.StringIO())
    before = dict(MessageTemplate.objects.values_list("name", "status"))
    assert before == {"welcome_text": "approved", "sale_card": "approved", "new_arrivals": "draft"}

    code, out, _ = run("--provider", provider_demo.GENERIC_NICKNAME)

    assert code == 0, out
    assert "Total: 3 unchanged" in out
    assert dict(MessageTemplate.objects.values_list("name", "status")) == before
    flags = simulator_flags(demo_simulator_knobs())
    assert json.loads(flags[flags.index("--template-statuses") + 1]) == before


class _Scripted(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted_vendor(settings):
    """A loopback vendor answering every GET with `_Scripted.body`: answers the simulator never gives."""
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_vendor_words_we_cannot_map_and_bodies_we_cannot_read(scripted_vendor):
    provider = generic_at(f"http://127.0.0.1:{scripted_vendor.server_port}")
    add_templates(provider, status="submitted")
    _Scripted.body = json.dumps(
        {
            "templates": [
                {"name": "text", "status": "IN_REVIEW"},
                {"name": "rich_card", "status": "Rejected"},  # no reason given
                {"name": "carousel", "status": "APPROVED"},
                {"status": "approved"},  # no name: ignored
            ]
        }
    ).encode()
    code, out, _ = run("--provider", provider.nickname)
    assert code == 1
    by_name = rows(out)
    assert "Unknown status 'in_review' from the vendor." in by_name["text"]
    assert "submitted -> rejected (Rejected by the vendor (no reason given).)" in by_name["rich_card"]
    assert "submitted -> approved" in by_name["carousel"]
    assert "does not know" in by_name["media"]

    _Scripted.body = b"<html>maintenance</html>"
    code, out, _ = run("--provider", provider.nickname)
    assert code == 1 and "Total: 4 error" in out
    assert 'HTTP 200: the answer has no "templates" list.' in out
