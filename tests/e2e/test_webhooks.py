"""Real Chromium: register a webhook, see its secret once, send a test event, read the delivery log
(status code, attempts, latency, next retry). Screenshot of the log in docs/screenshots/."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.webhooks.conftest import Receiver

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def receiver(settings):
    server = Receiver()
    settings.OUTBOUND_ALLOW_HOSTS = [f"127.0.0.1:{server.port}"]
    settings.RCS_WEBHOOK_RETRY_BASE_SECONDS = 60
    yield server
    server.stop()


def test_register_test_event_and_delivery_log(logged_in_page, live_server, receiver, sync_tasks):
    from django.utils import timezone

    from rcsconnect.webhooks import delivery
    from rcsconnect.webhooks.events import emit
    from rcsconnect.webhooks.models import Webhook, WebhookDelivery

    page = logged_in_page
    page.goto(f"{live_server.url}/")
    page.click("nav.mainnav >> text=Webhooks")
    page.click("text=Add webhook")
    page.fill("#id_name", "CRM sync")
    page.fill("#id_url", "http://10.0.0.5/hooks")
    page.click("form.webhook-form button[type=submit]")
    assert "Refused to connect" in page.locator("#wrap-url").inner_text()  # beside the field
    page.fill("#id_url", receiver.url)
    page.check("input[name=events][value='reply.received']")
    page.check("input[name=events][value='message.status_changed']")
    page.click("form.webhook-form button[type=submit]")
    secret = page.locator("code.webhook-secret").inner_text()
    webhook = Webhook.objects.get()
    assert secret == webhook.secret and webhook.events == ["reply.received", "message.status_changed"]
    page.click("text=I have stored it")
    assert secret not in page.content()

    receiver.answers = [(200, {})]
    page.click("text=Send test event")  # the task runs inline here (sync_tasks)
    row = page.locator("table.deliveries tbody tr").first
    assert "webhook.test" in row.inner_text() and "delivered" in row.inner_text()
    assert row.locator(".status-code").inner_text().startswith("200")
    assert "ms" in row.inner_text()

    receiver.answers = [(500, {})]
    emit("message.status_changed", [{"message_id": 1, "status": "delivered"}])
    failing = WebhookDelivery.objects.get(event="message.status_changed")
    delivery.webhook_deliver(delivery_id=failing.pk, now=timezone.now())
    failing.refresh_from_db()
    assert failing.next_attempt_at > timezone.now() + timedelta(seconds=20)
    page.reload()
    row = page.locator(f"tr[data-delivery='{failing.pk}']")
    assert "retrying" in row.inner_text() and row.locator(".attempts").inner_text() == "1"
    assert row.locator(".status-code").inner_text().startswith("500")
    assert row.locator(".next-retry").inner_text() == failing.next_attempt_at.strftime("%Y-%m-%d %H:%M:%S")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "webhook-delivery-log.png"), full_page=True)

    row.locator("a").click()
    assert "The receiver answered 500." in page.locator("table.attempts").inner_text()
    assert '"status":"delivered"' in page.locator("pre.payload").inner_text()
