"""Template builder in real Chromium: a 3-card carousel with buttons, live preview, payload tab, errors."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from templates_app.models import MessageTemplate
from tests.templates_app.kinds import SLUG, echo_kind  # noqa: F401 - fixture


@pytest.fixture
def echo_provider(transactional_db, echo_kind):  # noqa: F811
    from providers.models import Provider

    return Provider.objects.create(kind=SLUG, nickname="Echo", sender_id="echo-sender", is_default=True)


def card(page, i):
    return page.locator('fieldset[data-format="CAROUSEL"] [data-list="cards"] > .items > [data-item]').nth(i)


def test_build_carousel_with_live_preview_and_save(logged_in_page, live_server, echo_provider):
    page = logged_in_page
    page.goto(f"{live_server.url}/templates/new/?format=CAROUSEL")
    page.fill("[name=name]", "spring_sale")
    preview = page.locator("#preview")
    expect(preview.locator(".carousel .rc-card")).to_have_count(2)

    page.fill('[name="c.CAROUSEL.cards.0.title"]', "Shoes for {{1}}")
    expect(preview.locator(".rc-card").first.locator(".card-title")).to_have_text("Shoes for {{1}}")
    page.fill('[name="samples.0"]', "Asha")
    expect(preview.locator(".rc-card").first.locator(".card-title")).to_have_text("Shoes for Asha")
    page.fill('[name="c.CAROUSEL.cards.0.description"]', "Now *half* price, ~old~ _new_")
    desc = preview.locator(".rc-card").first.locator(".card-desc")
    expect(desc.locator("b")).to_have_text("half")
    expect(desc.locator("s")).to_have_text("old")
    expect(desc.locator("i")).to_have_text("new")

    page.click('fieldset[data-format="CAROUSEL"] button[data-add="card"]')
    expect(preview.locator(".carousel .rc-card")).to_have_count(3)
    page.fill('[name="c.CAROUSEL.cards.1.title"]', "Bags")
    page.fill('[name="c.CAROUSEL.cards.2.title"]', "Hats")
    for i in range(3):
        page.fill(f'[name="c.CAROUSEL.cards.{i}.media.url"]', f"https://cdn.example.com/{i}.jpg")
        card(page, i).locator('button[data-add="suggestion"]').click()
        page.fill(f'[name="c.CAROUSEL.cards.{i}.suggestions.0.text"]', f"Buy {i}")
    expect(preview.locator(".chip")).to_have_count(3)
    expect(preview.locator(".rc-card").nth(2).locator(".chip")).to_contain_text("Buy 2")
    expect(preview.locator(".media.h-medium")).to_have_count(3)
    page.select_option('[name="c.CAROUSEL.cards.0.media.height"]', "SHORT")
    expect(preview.locator(".rc-card").first.locator(".media.h-short")).to_have_count(1)

    # A second button on card 1 is an open-URL with a dynamic suffix; then card 3 moves to the front.
    card(page, 1).locator('button[data-add="suggestion"]').click()
    page.select_option('[name="c.CAROUSEL.cards.1.suggestions.1.type"]', "OPEN_URL")
    expect(page.locator('[name="c.CAROUSEL.cards.1.suggestions.1.url"]')).to_be_visible()
    page.fill('[name="c.CAROUSEL.cards.1.suggestions.1.text"]', "See bags")
    page.fill('[name="c.CAROUSEL.cards.1.suggestions.1.url"]', "https://shop.example.com/bags/{{1}}")
    page.select_option('[name="c.CAROUSEL.cards.1.suggestions.1.url_kind"]', "dynamic")
    card(page, 2).locator(':scope > .item-bar button[data-move="up"]').click()
    card(page, 1).locator(':scope > .item-bar button[data-move="up"]').click()
    expect(preview.locator(".rc-card .card-title")).to_have_text(["Hats", "Shoes for Asha", "Bags"])
    expect(page.locator('[name="c.CAROUSEL.cards.0.title"]')).to_have_value("Hats")
    page.select_option('[name="c.CAROUSEL.card_width"]', "SMALL")
    expect(preview.locator(".rc-card.w-small")).to_have_count(3)

    page.click('button[data-tab="payload"]')
    expect(page.locator("#payload")).to_contain_text("Shoes for Asha")
    expect(page.locator("#payload")).to_contain_text("https://shop.example.com/bags/Asha")
    page.click('button[data-tab="phone"]')

    page.click("#save")
    expect(page.locator(".flash")).to_contain_text("Template spring_sale saved.")
    template = MessageTemplate.objects.get(name="spring_sale")
    assert [c["title"] for c in template.content["cards"]] == ["Hats", "Shoes for {{1}}", "Bags"]
    assert template.content["card_width"] == "SMALL"
    assert template.content["cards"][2]["suggestions"][1] == {
        "type": "OPEN_URL",
        "text": "See bags",
        "postback_data": "See bags",
        "url": "https://shop.example.com/bags/{{1}}",
        "url_kind": "dynamic",
    }
    assert template.sample_values == ["Asha"]
    # The saved template reopens with the same preview.
    page.reload()
    expect(page.locator("#preview .rc-card .card-title")).to_have_text(["Hats", "Shoes for Asha", "Bags"])


def test_over_limit_input_shows_field_errors_and_saves_nothing(logged_in_page, live_server, echo_provider):
    page = logged_in_page
    page.goto(f"{live_server.url}/templates/new/?format=CAROUSEL")
    page.fill("[name=name]", "too_long")
    page.fill('[name="c.CAROUSEL.cards.0.title"]', "x" * 201)
    counter = page.locator(
        'fieldset[data-format="CAROUSEL"] .field', has=page.locator('[name="c.CAROUSEL.cards.0.title"]')
    )
    expect(counter.locator(".counter")).to_have_text("201/200")
    page.fill('[name="c.CAROUSEL.cards.1.title"]', "ok")
    card(page, 1).locator('button[data-add="suggestion"]').click()
    page.fill('[name="c.CAROUSEL.cards.1.suggestions.0.text"]', "Way too long a button label!")
    page.click("#save")
    expect(page.locator("#form-has-errors")).to_be_visible()
    expect(page.locator('[data-errors-for="c.CAROUSEL.cards.0.title"]')).to_have_text(
        "Title is 201 characters; the limit is 200."
    )
    expect(page.locator('[data-errors-for="c.CAROUSEL.cards.1.suggestions.0.text"]')).to_contain_text(
        re.compile("Label is 28 characters; the limit is 25.")
    )
    expect(page.locator('[name="c.CAROUSEL.cards.0.title"]')).to_have_value("x" * 201)
    assert MessageTemplate.objects.count() == 0


def test_text_and_rich_card_preview(logged_in_page, live_server, echo_provider):
    page = logged_in_page
    page.goto(f"{live_server.url}/templates/new/")
    preview = page.locator("#preview")
    page.fill('[name="c.TEXT.text"]', "Hi {{1}}, *bold* _it_ ~gone~ ```code```")
    page.fill('[name="samples.0"]', "Asha")
    bubble = preview.locator(".bubble")
    expect(bubble).to_contain_text("Hi Asha,")
    expect(bubble.locator("b")).to_have_text("bold")
    expect(bubble.locator("i")).to_have_text("it")
    expect(bubble.locator("s")).to_have_text("gone")
    expect(bubble.locator("code")).to_have_text("code")
    add = page.locator('fieldset[data-format="TEXT"] button[data-add="suggestion"]')
    for _ in range(2):
        add.click()
    page.fill('[name="c.TEXT.suggestions.0.text"]', "First")
    page.fill('[name="c.TEXT.suggestions.1.text"]', "Second")
    page.select_option('[name="c.TEXT.suggestions.1.type"]', "DIAL_PHONE")
    expect(page.locator('[name="c.TEXT.suggestions.1.phone_number"]')).to_be_visible()
    expect(page.locator('[name="c.TEXT.suggestions.1.url"]')).to_be_hidden()
    expect(preview.locator(".chip")).to_have_text([re.compile("First"), re.compile("Second")])
    page.locator('fieldset[data-format="TEXT"] .suggestion').nth(1).locator('button[data-move="up"]').click()
    expect(preview.locator(".chip")).to_have_text([re.compile("Second"), re.compile("First")])
    page.locator('fieldset[data-format="TEXT"] .suggestion').nth(0).locator("button[data-remove]").click()
    expect(preview.locator(".chip")).to_have_count(1)

    page.select_option("[name=format]", "RICH_CARD")
    expect(page.locator('fieldset[data-format="TEXT"]')).to_be_hidden()
    page.fill('[name="c.RICH_CARD.card.title"]', "Card title")
    page.fill('[name="c.RICH_CARD.card.media.url"]', "https://cdn.example.com/a.png")
    page.select_option('[name="c.RICH_CARD.card.media.content_type"]', "image/png")
    page.select_option('[name="c.RICH_CARD.card.media.height"]', "TALL")
    expect(preview.locator(".rc-card.vertical .media.h-tall")).to_have_count(1)
    expect(page.locator('[name="c.RICH_CARD.image_alignment"]')).to_be_hidden()
    page.select_option('[name="c.RICH_CARD.orientation"]', "HORIZONTAL")
    page.select_option('[name="c.RICH_CARD.image_alignment"]', "RIGHT")
    expect(preview.locator(".rc-card.horizontal.align-right")).to_have_count(1)
    page.fill("[name=name]", "card_one")
    page.click("#save")
    expect(page.locator(".flash")).to_contain_text("Template card_one saved.")
    content = MessageTemplate.objects.get(name="card_one").content
    assert content["orientation"] == "HORIZONTAL" and content["image_alignment"] == "RIGHT"
    assert content["card"]["title"] == "Card title"
