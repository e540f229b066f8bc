"""Browser: an audience page open while its import runs shows the new counters and contacts the moment
the import finishes, without a reload."""

from __future__ import annotations

import threading

from django.db import connection
from playwright.sync_api import expect

from campaigns.models import AudienceImport


def test_counters_and_contacts_follow_the_import_when_it_finishes(
    logged_in_page, live_server, monkeypatch, tmp_path
):
    queued: list[int] = []
    # The task is held back, so the page is open (and polling) before the import runs.
    monkeypatch.setattr("campaigns.services._enqueue", lambda func, *args: queued.append(args[0]))
    page = logged_in_page
    page.goto(f"{live_server.url}/audiences/")
    page.fill("#audience-form input[name=name]", "Live counters")
    page.click("#audience-form button[type=submit]")
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "phone,name\n+919812345671,Asha\n+919812345672,Ravi\n+919812345673,Meera\n+919812345674,Dev\n"
    )
    page.set_input_files("#import-form input[name=file]", str(csv_file))
    page.click("#import-form button[type=submit]")
    expect(page.locator("#contact-total")).to_have_text("0")
    expect(page.locator("#audience-contacts")).to_contain_text("No contacts.")
    assert len(queued) == 1

    def run() -> None:
        from campaigns.tasks import import_audience

        try:
            import_audience(queued[0])
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert AudienceImport.objects.get(pk=queued[0]).status == AudienceImport.Status.DONE
    expect(page.locator(".import-row .badge", has_text="Done")).to_be_visible(timeout=5_000)
    expect(page.locator("#contact-total")).to_have_text("4")
    expect(page.locator("#audience-counts")).to_contain_text("4subscribed")
    expect(page.locator("#audience-contacts tbody tr")).to_have_count(4)
    expect(page.locator("#audience-contacts")).to_contain_text("+919812345673")
