"""Browser: the builder's live preview and estimate before saving, a placeholder's message only after
the field was left empty, the searchable timezone select, the browser's timezone taken once, and the
confirmation before a provider is duplicated."""

from __future__ import annotations

from playwright.sync_api import expect

from campaigns.models import Contact
from providers.models import Provider
from rcsconnect.models import Profile
from tests.campaigns.conftest import make_audience, make_provider, make_template
from tests.e2e.conftest import login


def test_preview_and_estimate_follow_the_fields(logged_in_page, live_server):
    page = logged_in_page
    provider = make_provider(nickname="Vendor A", max_rate=5)
    make_template(provider, name="hello", text="Hi {{1}}, use {{2}}")
    audience = make_audience(12, unsubscribed=2)  # "Person <i>"; the first two unsubscribed
    first = Contact.objects.filter(audience=audience, subscribed=True).order_by("id").first()

    page.goto(f"{live_server.url}/campaigns/new/")
    expect(page.locator("#live-estimate")).to_contain_text("Pick a provider and an audience")
    page.select_option("#id_provider", label="Vendor A")
    page.select_option("#id_audience", label=audience.name)
    expect(page.locator("#live-estimate .recipients")).to_have_text("10")
    expect(page.locator("#live-estimate .unsubscribed")).to_have_text("2")
    expect(page.locator("#live-estimate .duration")).to_have_text("2 s")

    page.select_option("#id_template", label=f"hello (en) · {provider}")
    expect(page.locator(".mapping-row")).to_have_count(2)
    expect(page.locator(".preview-text")).to_have_text("Hi {{1}}, use {{2}}")
    expect(page.locator(".sample-contact")).to_contain_text(first.phone)
    assert page.locator(".mapping-row .errorlist").count() == 0  # nothing said before the user acts

    value_1 = page.locator("input[name=map_value_1]")
    value_1.focus()
    page.locator("input[name=name]").focus()  # left empty
    expect(page.locator(".mapping-row[data-placeholder='1'] .errorlist")).to_have_text(
        "Give an attribute name for {{1}}."
    )
    value_1.type("name")
    expect(page.locator(".mapping-row[data-placeholder='1'] .errorlist")).to_have_count(0)
    expect(page.locator(".preview-text")).to_have_text("Hi Person 2, use {{2}}")

    page.select_option("select[name=map_source_2]", "literal")
    page.locator("input[name=map_value_2]").type("SAVE10")
    expect(page.locator(".preview-text")).to_have_text("Hi Person 2, use SAVE10")


def test_timezone_select_is_searchable_and_the_browser_zone_is_the_default(browser, live_server, e2e_user):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Kolkata")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        with page.expect_response(lambda r: r.url.endswith("/profile/timezone/") and r.status == 204):
            login(page, live_server)
        assert Profile.objects.get(user=e2e_user).timezone == "Asia/Kolkata"

        page.goto(f"{live_server.url}/campaigns/new/")
        select = page.locator("#id_schedule_timezone")
        assert select.input_value() == "Asia/Kolkata"  # the browser's, through the profile
        # The schedule's (the send rules' window timezone has a search box of its own).
        search = page.locator(".timezone-search[aria-controls=id_schedule_timezone]")
        search.fill("new york")
        assert select.input_value() == "America/New_York"
        shown = select.locator("option").evaluate_all("os => os.filter(o => !o.hidden).map(o => o.value)")
        assert shown == ["America/New_York"]
        search.fill("")
        assert select.locator("option:not([hidden])").count() > 400

        page.goto(f"{live_server.url}/profile/")
        page.locator(".timezone-search").fill("tokyo")
        page.click("#profile-form button[type=submit]")
        expect(page.locator(".flash")).to_contain_text("Asia/Tokyo")
        assert Profile.objects.get(user=e2e_user).timezone == "Asia/Tokyo"
        assert page.locator("a.who").get_attribute("title").endswith("Asia/Tokyo")
    finally:
        context.close()


def test_duplicate_asks_first(logged_in_page, live_server):
    page = logged_in_page
    provider = make_provider(nickname="Vendor A")
    page.goto(f"{live_server.url}{provider.get_absolute_url()}")
    asked: list[str] = []
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.dismiss())
    page.get_by_role("button", name="Duplicate").click()
    assert asked and asked[0].startswith("Duplicate Vendor A?")
    assert Provider.objects.count() == 1

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Duplicate").click()
    expect(page.locator("h1")).to_contain_text("Vendor A (copy)")
    assert Provider.objects.filter(nickname="Vendor A (copy)").exists()
