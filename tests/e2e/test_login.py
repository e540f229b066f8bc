from __future__ import annotations

from tests.e2e.conftest import login


def test_anonymous_is_sent_to_login_then_reaches_dashboard(page, live_server, e2e_user):
    page.goto(f"{live_server.url}/providers/")
    assert "/accounts/login/" in page.url
    login(page, live_server)
    page.goto(f"{live_server.url}/providers/")
    assert page.locator("h1").inner_text() == "Providers"
    for label in ("Providers", "Templates", "Audiences", "Campaigns", "Inbox", "Stats"):
        assert page.locator("nav.mainnav").get_by_role("link", name=label).count() == 1


def test_wrong_password_shows_an_error(page, live_server, e2e_user):
    login_url = f"{live_server.url}/accounts/login/"
    page.goto(login_url)
    page.fill("input[name=username]", "e2e")
    page.fill("input[name=password]", "nope")
    page.click("button[type=submit]")
    assert "enter a correct username and password" in page.locator(".errorlist.nonfield").inner_text().lower()


def test_navigation_fits_a_phone_screen(browser, live_server, e2e_user):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    login(page, live_server)
    page.goto(f"{live_server.url}/campaigns/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    page.click("label.nav-toggle-label")
    assert page.locator("nav.mainnav").is_visible()
    context.close()
