"""Template builder in real Chromium: "Add card" stops at the carousel limit and says why."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from templates_app.limits import CAROUSEL_MAX
from tests.templates_app.kinds import SLUG, echo_kind  # noqa: F401 - fixture


@pytest.fixture
def echo_provider(transactional_db, echo_kind):  # noqa: F811
    from providers.models import Provider

    return Provider.objects.create(kind=SLUG, nickname="Echo", sender_id="echo-sender", is_default=True)


def test_add_card_stops_at_the_carousel_limit_with_the_reason(logged_in_page, live_server, echo_provider):
    page = logged_in_page
    page.goto(f"{live_server.url}/templates/new/?format=CAROUSEL")
    carousel = page.locator('fieldset[data-format="CAROUSEL"]')
    cards = carousel.locator('[data-list="cards"] > .items > [data-item]')
    add = carousel.locator('[data-list="cards"] > button[data-add="card"]')
    reason = carousel.locator('[data-list="cards"] > .at-max')
    expect(cards).to_have_count(2)
    expect(reason).to_be_hidden()
    for _ in range(CAROUSEL_MAX - 2):
        add.click()
    expect(cards).to_have_count(CAROUSEL_MAX)
    expect(add).to_be_disabled()
    expect(reason).to_be_visible()
    expect(reason).to_contain_text(f"at most {CAROUSEL_MAX} cards")
    add.click(force=True)  # a disabled button does nothing, even when clicked anyway
    expect(cards).to_have_count(CAROUSEL_MAX)

    cards.last.locator("[data-remove]").first.click()
    expect(cards).to_have_count(CAROUSEL_MAX - 1)
    expect(add).to_be_enabled()
    expect(reason).to_be_hidden()
