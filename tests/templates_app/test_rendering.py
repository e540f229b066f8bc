from __future__ import annotations

import pytest

from templates_app.rendering import RenderError, placeholders, render_content, tracked_urls

from .conftest import CONTENT_TYPES, load_fixture


@pytest.mark.parametrize("name", CONTENT_TYPES)
def test_render_fixture(name):
    data = load_fixture(name)
    before = repr(data["content"])
    assert render_content(data["content"], data["values"]) == data["rendered"]
    assert repr(data["content"]) == before  # the template content is not modified


@pytest.mark.parametrize("name", CONTENT_TYPES)
def test_placeholders_of_fixture(name):
    data = load_fixture(name)
    assert placeholders(data["content"]) == list(range(1, len(data["values"]) + 1))
    assert placeholders(data["rendered"]) == []


def test_values_in_urls_are_percent_encoded_but_text_is_not():
    content = {
        "type": "TEXT",
        "text": "{{1}}",
        "suggestions": [
            {"type": "OPEN_URL", "text": "Go", "url": "https://x.example/p?q={{1}}", "url_kind": "dynamic"}
        ],
    }
    rendered = render_content(content, ["a b&c=é"])
    assert rendered["text"] == "a b&c=é"
    assert rendered["suggestions"][0]["url"] == "https://x.example/p?q=a%20b&c=%C3%A9"


def test_placeholders_only_replaced_where_allowed():
    content = {
        "type": "TEXT",
        "text": "x",
        "suggestions": [{"type": "REPLY", "text": "{{1}}", "postback_data": "{{1}}"}],
    }
    assert placeholders(content) == []
    assert render_content(content, ["v"]) == content


def test_repeated_placeholder_and_spaces():
    content = {"type": "TEXT", "text": "{{1}} and {{ 1 }} then {{2}}"}
    assert placeholders(content) == [1, 2]
    assert render_content(content, ["a", "b"])["text"] == "a and a then b"


def test_missing_value_raises():
    with pytest.raises(RenderError, match=r"\{\{2\}\}"):
        render_content({"type": "TEXT", "text": "{{1}} {{2}}"}, ["only one"])


def test_tracked_urls_marks_only_tracked_suggestions():
    assert tracked_urls(load_fixture("rich_card")["content"]) == ["card.suggestions.0.url"]
    assert tracked_urls(load_fixture("text")["content"]) == []
