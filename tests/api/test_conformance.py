"""`manage.py conformance URL` against the project's vendor simulator over real HTTP."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, bool]:
    out = StringIO()
    try:
        call_command("conformance", *args, stdout=out)
    except CommandError:
        return out.getvalue(), False
    return out.getvalue(), True


def test_every_content_type_is_accepted_by_the_simulator(simulator):
    simulator.configure(callbacks=False)
    out, ok = run(f"{simulator.url}/generic/messages", "--json")
    assert ok, out
    results = json.loads(out)
    assert [r["type"] for r in results] == ["TEXT", "RICH_CARD", "CAROUSEL", "MEDIA", "TEXT+SMS"]
    assert all(
        r["http_status"] == 200 and r["outcome"] == "sent" and not r["contract_errors"] for r in results
    )
    received = [r["json"] for r in simulator.requests(limit=10) if r["path"] == "/generic/messages"]
    assert sorted(b["rcsContent"]["content"]["type"] for b in received) == sorted(
        ["TEXT", "RICH_CARD", "CAROUSEL", "MEDIA", "TEXT"]
    )
    assert sum("smsContent" in b for b in received) == 1


def test_basic_auth_and_oauth_with_secrets_masked(simulator):
    simulator.configure(callbacks=False, auth="basic")
    out, ok = run(f"{simulator.url}/generic/messages", "--only", "TEXT")
    assert not ok and "FAIL" in out and " 401 " in out
    out, ok = run(
        f"{simulator.url}/generic/messages",
        "--auth",
        "basic",
        "--user",
        "sim-user",
        "--password",
        "sim-pass",
        "--json",
    )
    assert ok, out
    assert "sim-pass" not in out
    simulator.configure(callbacks=False, auth="oauth")
    out, ok = run(
        f"{simulator.url}/generic/messages",
        "--auth",
        "oauth2",
        "--client-url",
        f"{simulator.url}/oauth/token",
        "--client-id",
        "sim-client",
        "--client-secret",
        "sim-secret",
        "--only",
        "CAROUSEL",
    )
    assert ok, out
    assert "CAROUSEL" in out and "ok" in out


def test_failures_are_reported_per_type(simulator):
    simulator.configure(callbacks=False, failure_200=1.0, failure_code=2002)
    out, ok = run(f"{simulator.url}/generic/messages", "--only", "TEXT", "MEDIA")
    assert not ok
    lines = out.splitlines()
    assert lines[1].startswith("TEXT") and "FAIL" in lines[1] and "2002" in lines[1]
    assert lines[2].startswith("MEDIA") and "2002" in lines[2]


def test_unreachable_or_private_endpoint(settings):
    settings.OUTBOUND_ALLOW_HOSTS = []
    out, ok = run("http://10.1.2.3/rcs", "--only", "TEXT")
    assert not ok and "blocked" in out
