"""Browser: a placeholder's "missing" message is not shown before the user had a chance to fill it,
appears once they leave it empty, and goes as soon as something is typed."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.campaigns.conftest import make_audience, make_provider, make_template


def test_the_missing_placeholder_message_waits_for_the_user_and_goes_when_typed(logged_in_page, live_server):
    page = logged_in_page
    vendor = make_provider(nickname="Vendor A")
    make_template(vendor, name="a_hello", text="Hi {{1}}")
    make_audience(2)
    page.goto(f"{live_server.url}/campaigns/new/")
    page.select_option("#id_provider", label="Vendor A")
    page.select_option("#id_template", label=f"a_hello (en) · {vendor}")
    row = page.locator(".mapping-row")
    expect(row).to_have_count(1)
    errors = row.locator(".errorlist")
    expect(errors).to_have_count(0)  # not at once
    value = page.locator("input[name=map_value_1]")
    value.focus()
    page.locator("input[name=name]").focus()  # left empty
    expect(errors).to_have_count(1)
    assert "{{1}}" in errors.inner_text()
    value.fill("n")
    expect(errors).to_have_count(0)  # gone as soon as something is typed
