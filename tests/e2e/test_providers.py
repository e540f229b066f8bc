"""Real Chromium: add a Generic RCS provider with OAuth 2.0 and three headers, reopen it, move the default."""

from __future__ import annotations

import pytest


@pytest.fixture
def loopback_allowed(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]


def test_add_generic_oauth_provider_reopen_and_move_default(logged_in_page, live_server, loopback_allowed):
    from providers.models import Provider

    Provider.objects.create(
        kind="jiocx",
        nickname="Old default",
        sender_id="a",
        is_default=True,
        config={"base_url": "https://127.0.0.1/jio"},
        secrets={"api_key": "k"},
    )
    page = logged_in_page
    page.goto(f"{live_server.url}/providers/")
    page.click("text=Add provider")
    page.click("text=Generic RCS")
    page.fill("#id_nickname", "Acme OAuth")
    page.fill("#id_sender_id", "acme-agent")
    page.select_option("#id_cfg_method", "PUT")
    page.fill("#id_cfg_endpoint", "https://127.0.0.1:8443/rcs/messages")
    assert page.locator("#id_cfg_client_url").is_hidden()  # only the chosen auth type's fields show
    page.select_option("#id_cfg_auth_type", "oauth2")
    page.fill("#id_cfg_client_url", "https://127.0.0.1:8443/oauth/token")
    page.fill("#id_cfg_client_id", "client-42")
    page.fill("#id_secret_client_secret", "very-secret-value")
    headers = [("X-Tenant", "acme"), ("X-Region", "in"), ("X-Trace", "on")]
    for i, (name, value) in enumerate(headers):
        page.click("[data-add-row=headers]")
        page.fill(f"input[name=headers-{i}-name]", name)
        page.fill(f"input[name=headers-{i}-value]", value)
    # A fourth row added then removed is not saved.
    page.click("[data-add-row=headers]")
    page.fill("input[name=headers-3-name]", "X-Removed")
    page.locator("#headers-rows .kv-row").nth(3).locator("[data-remove-row]").click()
    page.fill("#id_max_rate", "300")
    page.click("button[type=submit]:has-text('Save')")
    page.wait_for_selector("text=Saved Acme OAuth.")

    provider = Provider.objects.get(nickname="Acme OAuth")
    assert provider.secrets == {"client_secret": "very-secret-value"}
    assert [h["name"] for h in provider.config["headers"]] == ["X-Tenant", "X-Region", "X-Trace"]

    page.goto(f"{live_server.url}/providers/{provider.pk}/edit/")
    assert page.input_value("#id_secret_client_secret") == ""
    assert "very-secret-value" not in page.content()
    assert page.input_value("#id_nickname") == "Acme OAuth"
    assert page.input_value("#id_cfg_method") == "PUT"
    assert page.input_value("#id_cfg_auth_type") == "oauth2"
    assert page.input_value("#id_cfg_endpoint") == "https://127.0.0.1:8443/rcs/messages"
    assert page.input_value("#id_cfg_client_url") == "https://127.0.0.1:8443/oauth/token"
    assert page.input_value("#id_cfg_client_id") == "client-42"
    assert page.input_value("#id_max_rate") == "300"
    assert [page.input_value(f"input[name=headers-{i}-name]") for i in range(3)] == [
        "X-Tenant",
        "X-Region",
        "X-Trace",
    ]
    assert [page.input_value(f"input[name=headers-{i}-value]") for i in range(3)] == ["acme", "in", "on"]
    # Saving again without typing the secret keeps it.
    page.click("button[type=submit]:has-text('Save')")
    page.wait_for_selector("text=Saved Acme OAuth.")
    provider.refresh_from_db()
    assert provider.secrets == {"client_secret": "very-secret-value"}

    page.goto(f"{live_server.url}/providers/")
    old_row = page.locator("tr[data-provider='Old default']")
    new_row = page.locator("tr[data-provider='Acme OAuth']")
    assert old_row.locator(".default-badge").count() == 1
    assert new_row.locator(".default-badge").count() == 0
    new_row.locator("button:has-text('Mark default')").click()
    page.wait_for_selector("text=Acme OAuth is now the default provider.")
    assert page.locator("tr[data-provider='Acme OAuth'] .default-badge").count() == 1
    assert page.locator("tr[data-provider='Old default'] .default-badge").count() == 0


def test_send_test_page_shows_request_response_and_delivered_event_live(
    logged_in_page, live_server, simulator, settings, sync_tasks
):
    from providers.models import Provider

    settings.PUBLIC_BASE_URL = live_server.url
    simulator.configure(auth="basic", read_share=1, callback_delay_ms=300)
    provider = Provider.objects.create(
        kind="generic_rcs",
        nickname="Sim basic",
        sender_id="sender-e2e",
        config={
            "method": "POST",
            "endpoint": f"{simulator.url}/generic/messages",
            "auth_type": "basic",
            "username": "sim-user",
        },
        secrets={"password": "sim-pass"},
    )
    page = logged_in_page
    page.goto(f"{live_server.url}/providers/{provider.pk}/test/")
    page.select_option("#id_number_0", "IN")  # the one phone input: country, then the number
    page.fill("#id_number_1", "9812345671")
    page.fill("#id_rcs_text", "Hello from Chromium")
    page.click("button[type=submit]:has-text('Send test')")
    page.wait_for_selector("#req-line")
    assert page.inner_text("#req-line") == f"POST {simulator.url}/generic/messages"
    assert "Authorization: Basic ********" in page.inner_text("#req-headers")
    assert '"text": "Hello from Chromium"' in page.inner_text("#req-body")
    assert page.inner_text("#classification") == "sent"
    assert "HTTP 200" in page.inner_text("#resp-status")
    assert "success" in page.inner_text("#resp-body")
    # Callbacks arrive after the page was rendered: htmx polling brings them in.
    page.wait_for_selector(".event-status:text-is('delivered')", timeout=10_000)
    page.wait_for_selector(".event-status:text-is('read')", timeout=10_000)
    assert "sim-pass" not in page.content()
