"""Every WIRE.md 5 limit, at the boundary (accepted) and just past it (refused with a message)."""

from __future__ import annotations

import pytest

from templates_app import limits as L
from templates_app.limits import name_errors, validate_content

from .conftest import CONTENT_TYPES, load_fixture


def text(t="Hello", suggestions=None):
    return {"type": "TEXT", "text": t, "suggestions": suggestions or []}


def reply(label="Yes", postback="yes"):
    return {"type": "REPLY", "text": label, "postback_data": postback}


def card(**kw):
    base = {"title": "Title", "description": "Body", "media": None, "suggestions": []}
    base.update(kw)
    return base


def carousel(n=2, **card_kw):
    return {"type": "CAROUSEL", "card_width": "MEDIUM", "cards": [card(**card_kw) for _ in range(n)]}


def rich(orientation="VERTICAL", **card_kw):
    return {
        "type": "RICH_CARD",
        "orientation": orientation,
        "image_alignment": "LEFT",
        "card": card(**card_kw),
    }


def image(**kw):
    base = {
        "url": "https://cdn.example.com/a.png",
        "height": "MEDIUM",
        "thumbnail_url": "",
        "content_type": "image/png",
    }
    base.update(kw)
    return base


def errors_of(content, **kw):
    return validate_content(content, **kw)[0]


def warnings_of(content):
    return validate_content(content)[1]


@pytest.mark.parametrize("name", CONTENT_TYPES)
def test_fixtures_are_valid(name):
    data = load_fixture(name)
    assert validate_content(data["content"], sample_values=data["values"]) == ({}, {})


def test_name_rules():
    assert name_errors("a" * 20) == []
    assert name_errors("Promo_2024_x") == []
    assert "At most 20 characters (21 given)." in name_errors("a" * 21)
    assert name_errors("promo-1") == ["Use only letters, digits and underscores."]
    assert name_errors("promo 1") == ["Use only letters, digits and underscores."]
    assert name_errors("") == ["Enter a name."]


def test_text_length():
    assert errors_of(text("x" * 1000)) == {}
    assert errors_of(text("x" * 1001)) == {"text": ["Text is 1001 characters; the limit is 1000."]}
    assert errors_of(text("   ")) == {"text": ["Enter the message text."]}


def test_title_and_description():
    assert errors_of(rich(title="t" * 200, description="d" * 2000)) == {}
    errs = errors_of(rich(title="t" * 201, description="d" * 2001))
    assert errs["card.title"] == ["Title is 201 characters; the limit is 200."]
    assert errs["card.description"] == ["Description is 2001 characters; the limit is 2000."]


def test_carousel_card_description_is_1000():
    assert errors_of(carousel(description="d" * 1000)) == {}
    errs = errors_of(carousel(description="d" * 1001))
    assert errs["cards.0.description"] == ["Description is 1001 characters; the limit is 1000."]
    assert errs["cards.1.description"]


def test_empty_card():
    errs = errors_of(rich(title="", description="", media=None))
    assert errs == {"card.title": ["A card needs a title, a description or media."]}
    assert errors_of(rich(title="", description="", media=image())) == {}


def test_buttons_per_message_and_warning():
    assert (
        errors_of(text(suggestions=[reply()] * 3)) == {}
        and warnings_of(text(suggestions=[reply()] * 3)) == {}
    )
    four = text(suggestions=[reply()] * 4)
    assert errors_of(four) == {}
    assert warnings_of(four) == {
        "suggestions": ["More than 3 buttons per message: some phones may hide the extra ones."]
    }
    assert errors_of(text(suggestions=[reply()] * 5)) == {
        "suggestions": ["At most 4 buttons per message (5 given)."]
    }
    assert errors_of(rich(suggestions=[reply()] * 5))["card.suggestions"]


def test_buttons_per_carousel_card_and_warning():
    assert warnings_of(carousel(suggestions=[reply()] * 2)) == {}
    three = carousel(suggestions=[reply()] * 3)
    assert errors_of(three) == {}
    assert "More than 2 buttons per card" in warnings_of(three)["cards.0.suggestions"][0]
    assert errors_of(carousel(suggestions=[reply()] * 4)) == {}
    assert errors_of(carousel(suggestions=[reply()] * 5))["cards.1.suggestions"] == [
        "At most 4 buttons per card (5 given)."
    ]


def test_suggestion_label():
    assert errors_of(text(suggestions=[reply("x" * 25)])) == {}
    assert errors_of(text(suggestions=[reply("x" * 26)])) == {
        "suggestions.0.text": ["Label is 26 characters; the limit is 25."]
    }
    assert errors_of(text(suggestions=[reply("Yes, 20% off!")]))["suggestions.0.text"]  # % is special
    for ok in ("Call (US)", "Track order", "Sí, señor", "Buy 2 + 1", "Don't"):
        assert errors_of(text(suggestions=[reply(ok)])) == {}, ok
    for bad in ("<b>", "a_b", "hi 🙂", "{{1}}", "#1", "a@b"):
        assert errors_of(text(suggestions=[reply(bad)]))["suggestions.0.text"], bad
    assert errors_of(text(suggestions=[reply("")])) == {"suggestions.0.text": ["Enter the button label."]}


def test_postback_data():
    assert errors_of(text(suggestions=[reply(postback="p" * 2048)])) == {}
    assert errors_of(text(suggestions=[reply(postback="p" * 2049)])) == {
        "suggestions.0.postback_data": ["Postback data is 2049 characters; the limit is 2048."]
    }


def test_carousel_card_count():
    assert errors_of(carousel(2)) == {} and errors_of(carousel(10)) == {}
    assert errors_of(carousel(1)) == {"cards": ["A carousel has 2 to 10 cards (1 given)."]}
    assert errors_of(carousel(11)) == {"cards": ["A carousel has 2 to 10 cards (11 given)."]}
    assert errors_of({**carousel(), "card_width": "LARGE"}) == {"card_width": ["Choose small or medium."]}


def test_media_height_rules():
    assert errors_of(rich(media=image(height="TALL"))) == {}
    assert errors_of(carousel(media=image(height="MEDIUM"))) == {}
    assert errors_of(carousel(media=image(height="TALL")))["cards.0.media.height"] == [
        "Tall media is not allowed in carousels; choose short or medium."
    ]
    assert errors_of(rich(media=image(height="HUGE"))) == {
        "card.media.height": ["Choose short, medium or tall."]
    }
    assert warnings_of(rich("HORIZONTAL", media=image(height="TALL"))) == {
        "card.media.height": ["Media height is ignored on horizontal cards."]
    }


@pytest.mark.parametrize("ctype", L.MEDIA_TYPES)
def test_media_types_accepted(ctype):
    thumb = "https://cdn.example.com/t.jpg" if ctype.startswith("video/") else ""
    assert errors_of(rich(media=image(content_type=ctype, thumbnail_url=thumb))) == {}


def test_media_type_refused_and_video_needs_thumbnail():
    assert errors_of(rich(media=image(content_type="image/webp")))["card.media.content_type"]
    assert errors_of(rich(media=image(content_type="")))["card.media.content_type"] == [
        "Choose the media type."
    ]
    assert errors_of(rich(media=image(content_type="video/mp4"))) == {
        "card.media.thumbnail_url": ["A video needs a thumbnail URL."]
    }
    media = {"type": "MEDIA", "media": image(url=""), "suggestions": []}
    assert errors_of(media) == {"media.url": ["Enter the media URL."]}


def test_dial_number_e164():
    def dial(number):
        return text(suggestions=[{"type": "DIAL_PHONE", "text": "Call", "phone_number": number}])

    assert errors_of(dial("+14155550123")) == {}
    assert errors_of(dial("+919812345678")) == {}
    for bad in ("14155550123", "+1415555012", "+1 415 555 0123", "+0123456789", "+1415555012345678", ""):
        assert errors_of(dial(bad))["suggestions.0.phone_number"], bad


def test_open_url_kinds():
    def link(url, kind):
        return text(suggestions=[{"type": "OPEN_URL", "text": "Go", "url": url, "url_kind": kind}])

    assert errors_of(link("https://a.example/x", "static")) == {}
    assert errors_of(link("https://a.example/x/{{1}}", "dynamic"), sample_values=["v"]) == {}
    assert errors_of(link("https://a.example/x", "tracked")) == {}
    assert errors_of(link("https://a.example/x/{{1}}", "static"))["suggestions.0.url"]
    assert errors_of(link("https://a.example/x", "dynamic"))["suggestions.0.url"] == [
        "A dynamic URL ends in a placeholder suffix such as {{1}}."
    ]
    assert errors_of(link("https://a.example/{{1}}/x", "dynamic"))["suggestions.0.url"] == [
        "Placeholders are allowed only as the URL's suffix (at its end)."
    ]
    assert errors_of(link("ftp://a.example/x", "static"))["suggestions.0.url"]
    assert errors_of(link("https://a.example/x", "clever"))["suggestions.0.url_kind"]


def test_media_url_suffix_placeholder():
    content = rich(media=image(url="https://cdn.example.com/{{1}}"))
    assert errors_of(content, sample_values=["a.png"]) == {}
    assert errors_of(rich(media=image(url="{{1}}")), sample_values=["x"])["card.media.url"]


def test_placeholders_numbered_in_order_with_samples():
    assert errors_of(text("{{1}} {{2}}"), sample_values=["a", "b"]) == {}
    assert errors_of(text("{{1}} {{3}}")) == {
        "": ["Number placeholders from {{1}} without gaps (missing {{2}})."]
    }
    assert errors_of(text("{{2}} {{1}}")) == {
        "": ["Number placeholders in order of appearance: {{2}}, {{1}} should be {{1}}, {{2}}."]
    }
    assert errors_of(text("{{0}}")) == {"": ["Placeholders start at {{1}}."]}
    assert errors_of(text("{{name}}"))["text"] == ["{{name}} is not a placeholder; use {{1}}, {{2}} ..."]
    assert errors_of(text("{{1}} {{2}}"), sample_values=["a", " "]) == {
        "samples.1": ["Enter a sample value for {{2}}."]
    }
    assert errors_of(text("{{1}}"), sample_values=[]) == {"samples.0": ["Enter a sample value for {{1}}."]}


def test_placeholder_not_allowed_in_postback():
    errs = errors_of(text(suggestions=[reply(postback="{{1}}")]))
    assert errs["suggestions.0.postback_data"] == [
        "Placeholders are not allowed here (only in text, titles, descriptions and URLs)."
    ]


def big_carousel():
    # The largest legal pieces: 4-byte characters in titles and descriptions, long URLs and postbacks.
    url = "https://cdn.example.com/" + "u" * 2020
    button = {"type": "OPEN_URL", "text": "Go", "postback_data": "p" * 2048, "url": url, "url_kind": "static"}
    media = image(url=url, thumbnail_url=url, content_type="video/mp4")
    return carousel(10, title="🙂" * 200, description="🙂" * 1000, media=media, suggestions=[button] * 4)


def test_whole_message_250_kb(monkeypatch):
    content = big_carousel()
    size = L.message_size(content)
    assert size > 250 * 1024
    assert errors_of(content) == {"": [f"The whole message is {size // 1024} KB; the limit is 250 KB."]}
    monkeypatch.setattr(L, "MESSAGE_MAX_BYTES", size)
    assert errors_of(content) == {}
    monkeypatch.setattr(L, "MESSAGE_MAX_BYTES", size - 1)
    assert "" in errors_of(content)


def test_unknown_type():
    assert errors_of({"type": "AUDIO"}) == {"type": ["Choose one of TEXT, RICH_CARD, CAROUSEL, MEDIA."]}
