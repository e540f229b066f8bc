"""Browser: import a CSV with bad rows, build a campaign, launch, pause, resume, watch it complete."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from campaigns.models import Campaign
from tests.campaigns.conftest import make_provider, make_template

CSV = (
    "phone,name\n+919812345671,Asha\nnot-a-number,Bad\n+919812345672,Ravi\n"
    "+919812345671,Again\n+919812345673,Meera\n"
)


@pytest.fixture
def held_dispatch(monkeypatch):
    """Launch and resume only queue work; the test starts dispatch itself, so pausing is observable."""
    monkeypatch.setattr("campaigns.services.provider_kick", lambda **kw: 0)


def test_import_build_launch_pause_resume_complete(
    logged_in_page, live_server, simulator, sync_tasks, held_dispatch, tmp_path
):
    from campaigns.services import dispatch_run

    page = logged_in_page
    simulator.configure(callbacks=False)
    provider = make_provider(url=f"{simulator.url}/generic/messages", is_default=True, max_rate=50)
    make_template(provider, name="hello", text="Hi {{1}}")

    page.goto(f"{live_server.url}/audiences/")
    page.fill("#audience-form input[name=name]", "Browser audience")
    page.click("#audience-form button[type=submit]")
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(CSV)
    page.set_input_files("#import-form input[name=file]", str(csv_file))
    page.click("#import-form button[type=submit]")
    row = page.locator(".import-row").first
    row.locator(".badge", has_text="Done").wait_for()
    assert row.locator(".imported").inner_text() == "3"
    assert row.locator(".invalid").inner_text() == "1"
    assert row.locator(".duplicates").inner_text() == "1"
    assert row.locator(".report-link").is_visible()

    page.click("text=New campaign")
    page.fill("input[name=name]", "Browser campaign")
    page.select_option("#id_template", label=f"hello (en) · {provider}")
    page.locator("input[name=map_value_1]").wait_for()
    page.fill("input[name=map_value_1]", "name")
    page.click("#campaign-form button[type=submit]")
    assert page.locator("#estimate .recipients").inner_text() == "3"

    asked: list[str] = []
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.accept())
    page.click("button[name=launch]")
    assert page.locator("#campaign-status").inner_text() == "Sending"
    assert asked == ["Launch Browser campaign to 3 recipients now?"]
    page.click("button[name=pause]")
    assert page.locator("#campaign-status").inner_text() == "Paused"
    page.click("button[name=resume]")
    assert page.locator("#campaign-status").inner_text() == "Sending"

    campaign = Campaign.objects.get(name="Browser campaign")

    def dispatch() -> None:
        try:
            dispatch_run(provider_id=provider.pk, budget=20)
        finally:
            connection.close()  # the thread's own; left open, it keeps the test database from being dropped

    worker = threading.Thread(target=dispatch)
    worker.start()
    page.locator("#campaign-status", has_text="Completed").wait_for(timeout=20_000)
    worker.join()
    assert page.locator(".c-sent").inner_text() == "3"
    campaign.refresh_from_db()
    assert campaign.sent_count == 3
    assert simulator.stats(provider.sender_id)["unique_msg_ids"] == 3
