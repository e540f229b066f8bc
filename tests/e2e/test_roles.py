"""Roles in the real browser: who reaches what, the 403 page, the admin read-only for Support, and no
Content-Security-Policy violations on the main pages."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login

PASSWORD = "role-pass-8765"  # noqa: S105 - test credentials


def _user(username: str, role: str | None, **flags):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password=PASSWORD, **flags)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def test_marketer_cannot_open_the_admin(page, live_server, transactional_db):
    _user("mara", "Marketer", is_staff=True)
    login(page, live_server, "mara", PASSWORD)
    assert page.locator("nav.mainnav").get_by_role("link", name="Admin").count() == 0
    response = page.goto(f"{live_server.url}/admin/")
    assert response.status == 403
    assert page.locator("h1").inner_text() == "No access"


def test_no_role_user_sees_the_no_access_page(page, live_server, transactional_db):
    _user("nobody", None)
    login(page, live_server, "nobody", PASSWORD)
    response = page.goto(f"{live_server.url}/campaigns/")
    assert response.status == 403
    assert page.locator("[data-testid=no-access]").is_visible()
    assert "has no role" in page.locator("[data-testid=no-access]").inner_text()
    assert page.locator("nav.mainnav a").count() == 0


def test_support_sees_a_provider_read_only_and_disables_it(page, live_server, transactional_db):
    from providers.models import Provider
    from tests.api.factories import make_provider

    provider = make_provider(nickname="Jio live")
    _user("helpdesk", "Support", is_staff=True)
    login(page, live_server, "helpdesk", PASSWORD)
    page.goto(f"{live_server.url}/admin/providers/provider/{provider.pk}/change/")
    assert page.locator("input[name=nickname]").count() == 0  # read-only: no inputs
    assert page.locator("textarea[name=config]").count() == 0
    assert "vendor.example.com" in page.content()
    page.goto(f"{live_server.url}/admin/providers/provider/")
    page.check(f"input[name=_selected_action][value='{provider.pk}']")
    page.select_option("select[name=action]", "disable")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "Updated 1 provider" in page.locator(".messagelist").inner_text()
    provider.refresh_from_db()
    assert provider.enabled is False
    assert Provider.objects.get(pk=provider.pk).config == provider.config


@pytest.mark.parametrize(
    "path",
    [
        "/providers/",
        "/providers/{provider}/",
        "/providers/{provider}/edit/",
        "/templates/",
        "/templates/new/",
        "/audiences/",
        "/campaigns/",
        "/campaigns/new/",
        "/campaigns/{campaign}/",
        "/inbox/",
        "/stats/",
        "/stats/campaigns/{campaign}/",
        "/audit/",
        "/admin/providers/provider/",
    ],
)
def test_main_pages_have_no_csp_violations(logged_in_page, live_server, path):
    from tests.api.factories import make_campaign, make_provider

    provider = make_provider()
    campaign = make_campaign(provider=provider, placeholder_mapping=[{"value": "friend"}])
    problems = []
    logged_in_page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text
            else None
        ),
    )
    logged_in_page.on("pageerror", lambda exc: problems.append(str(exc)))
    response = logged_in_page.goto(live_server.url + path.format(provider=provider.pk, campaign=campaign.pk))
    assert response.status == 200
    assert "Content-Security-Policy" in response.headers or "content-security-policy" in response.headers
    logged_in_page.wait_for_load_state("networkidle")
    if path == "/templates/new/":  # the live preview: htmx posts the draft as it is typed
        box = logged_in_page.locator("textarea").first
        box.fill("Hello {{1}}")
        logged_in_page.wait_for_timeout(800)
    assert not problems, problems
