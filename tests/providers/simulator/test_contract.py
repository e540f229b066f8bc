"""The simulator checks every send request against WIRE.md 1.1, 1.2, 4 and 5, and names each problem."""

from __future__ import annotations

import copy

import pytest
import requests

from .helpers import fields, jiocx_message, send, send_jiocx, text_message

IMAGE = {"url": "https://cdn.example.com/a.png", "height": "MEDIUM", "contentType": "image/png"}
CARD = {
    "title": "Spring sale",
    "description": "Up to 50% off",
    "media": IMAGE,
    "suggestions": [{"type": "OPEN_URL", "text": "Shop", "postbackData": "shop", "url": "https://ex.com/s"}],
}


def with_content(content, **envelope):
    body = text_message(**envelope)
    body["rcsContent"]["content"] = content
    return body


WITH_TEMPLATE = text_message(to="+919812345678")
WITH_TEMPLATE["rcsContent"]["template"] = {"name": "spring_sale", "language": "en", "variables": ["Ann"]}

VALID = {
    "text": text_message(
        suggestions=[
            {"type": "REPLY", "text": "Yes", "postbackData": "yes"},
            {"type": "OPEN_URL", "text": "Open", "postbackData": "open", "url": "https://example.com/x"},
            {"type": "DIAL_PHONE", "text": "Call us", "postbackData": "call", "phoneNumber": "+4930123456"},
        ]
    ),
    "rich card vertical": with_content({"type": "RICH_CARD", "cardOrientation": "VERTICAL", "card": CARD}),
    "rich card horizontal": with_content(
        {
            "type": "RICH_CARD",
            "cardOrientation": "HORIZONTAL",
            "thumbnailImageAlignment": "LEFT",
            "card": CARD,
        }
    ),
    "carousel": with_content({"type": "CAROUSEL", "cardWidth": "MEDIUM", "cards": [CARD, CARD, CARD]}),
    "media video": with_content(
        {
            "type": "MEDIA",
            "media": {
                "url": "https://cdn.example.com/v.mp4",
                "contentType": "video/mp4",
                "thumbnailUrl": "https://cdn.example.com/t.png",
            },
        }
    ),
    "template and sms": {
        **WITH_TEMPLATE,
        "smsContent": {
            "senderId": "RCSDMO",
            "body": "Hello by SMS",
            "dltTemplateId": "1107161234567890123",
            "principalEntityId": "1101161234567890123",
            "customParam": [{"name": "a", "value": "b"}],
        },
    },
}


@pytest.mark.parametrize("name", list(VALID))
def test_valid_messages_are_accepted(simulator, name):
    body = copy.deepcopy(VALID[name])
    response = send(simulator, body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "success"
    assert response.json()["messageId"]


def test_put_is_accepted_like_post(simulator):
    assert send(simulator, text_message(), method="PUT").status_code == 200


def _set(body, path, value):
    target = body
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    if value is DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return body


DELETE = object()
RICH = "rich card vertical"
CAROUSEL = "carousel"
C = "rcsContent.content"
INVALID = [
    ("text", "payloadVersion", "0.1", "payloadVersion", "must be the number 0.1"),
    ("text", "payloadVersion", DELETE, "payloadVersion", "required"),
    ("text", "msgId", "x" * 61, "msgId", "at most 60 characters"),
    ("text", "msgId", "", "msgId", "must not be empty"),
    ("text", "to", "4915112345671", "to", "E.164"),
    ("text", "to", "+49 151 1234567", "to", "E.164"),
    ("text", "callbackURL", "ftp://x", "callbackURL", "absolute http(s) URL"),
    ("text", "rcsContent.senderId", DELETE, "rcsContent.senderId", "required"),
    ("text", "rcsContent.customParam", [{"value": "x"}], "rcsContent.customParam[0].name", "required"),
    ("text", f"{C}.type", "VIDEO", f"{C}.type", "must be one of TEXT, RICH_CARD, CAROUSEL, MEDIA"),
    ("text", f"{C}.text", "a" * 1001, f"{C}.text", "at most 1000 characters"),
    ("text", f"{C}.text", "Hi {{1}}", f"{C}.text", "unrendered placeholder"),
    (
        "text",
        f"{C}.suggestions",
        [{"type": "REPLY", "text": "Hi", "postbackData": "p"}] * 5,
        f"{C}.suggestions",
        "at most 4 suggestions",
    ),
    ("text", f"{C}.suggestions.0.type", "SHARE", f"{C}.suggestions[0].type", "must be one of"),
    ("text", f"{C}.suggestions.0.text", "x" * 26, f"{C}.suggestions[0].text", "at most 25 characters"),
    ("text", f"{C}.suggestions.0.text", "Line\nbreak", f"{C}.suggestions[0].text", "control characters"),
    ("text", f"{C}.suggestions.0.postbackData", DELETE, f"{C}.suggestions[0].postbackData", "required"),
    ("text", f"{C}.suggestions.0.postbackData", "p" * 2049, f"{C}.suggestions[0].postbackData", "2048"),
    ("text", f"{C}.suggestions.1.url", DELETE, f"{C}.suggestions[1].url", "required"),
    ("text", f"{C}.suggestions.2.phoneNumber", "030123", f"{C}.suggestions[2].phoneNumber", "E.164"),
    (RICH, f"{C}.cardOrientation", "DIAGONAL", f"{C}.cardOrientation", "must be one of VERTICAL, HORIZONTAL"),
    (RICH, f"{C}.card.title", "t" * 201, f"{C}.card.title", "at most 200"),
    (RICH, f"{C}.card.description", "d" * 2001, f"{C}.card.description", "at most 2000"),
    (RICH, f"{C}.card.media.height", "HUGE", f"{C}.card.media.height", "SHORT, MEDIUM, TALL"),
    (RICH, f"{C}.card.media.height", DELETE, f"{C}.card.media.height", "required"),
    (
        RICH,
        f"{C}.card.media.contentType",
        "image/bmp",
        f"{C}.card.media.contentType",
        "unsupported media type",
    ),
    (
        RICH,
        f"{C}.card.media",
        {"url": "https://x.com/v.webm", "height": "SHORT"},
        f"{C}.card.media.thumbnailUrl",
        "required for video",
    ),
    (RICH, f"{C}.card", {"suggestions": []}, f"{C}.card", "at least a title"),
    (
        RICH,
        f"{C}.card.suggestions",
        [{"type": "REPLY", "text": "a", "postbackData": "a"}] * 5,
        f"{C}.card.suggestions",
        "at most 4",
    ),
    (CAROUSEL, f"{C}.cardWidth", "LARGE", f"{C}.cardWidth", "SMALL, MEDIUM"),
    (CAROUSEL, f"{C}.cards", [CARD], f"{C}.cards", "2 to 10 cards (got 1)"),
    (CAROUSEL, f"{C}.cards", [CARD] * 11, f"{C}.cards", "2 to 10 cards (got 11)"),
    (CAROUSEL, f"{C}.cards.1.media.height", "TALL", f"{C}.cards[1].media.height", "not allowed in carousels"),
    (CAROUSEL, f"{C}.cards.0.description", "d" * 1001, f"{C}.cards[0].description", "at most 1000"),
    ("media video", f"{C}.media.thumbnailUrl", DELETE, f"{C}.media.thumbnailUrl", "required for video"),
    ("media video", f"{C}.media.url", DELETE, f"{C}.media.url", "required"),
    ("template and sms", "smsContent.dltTemplateId", DELETE, "smsContent.dltTemplateId", "Indian (+91)"),
    (
        "template and sms",
        "smsContent.principalEntityId",
        "11O1",
        "smsContent.principalEntityId",
        "digits only",
    ),
    ("template and sms", "smsContent.senderId", DELETE, "smsContent.senderId", "Indian (+91)"),
    ("template and sms", "smsContent.body", "", "smsContent.body", "must not be empty"),
    (
        "template and sms",
        "rcsContent.template.name",
        "spring-sale",
        "rcsContent.template.name",
        "letters, digits",
    ),
    ("template and sms", "rcsContent.template.name", "s" * 21, "rcsContent.template.name", "at most 20"),
]


@pytest.mark.parametrize(
    ("base", "path", "value", "field", "reason"), INVALID, ids=[f"{i[3]}:{i[4]}" for i in INVALID]
)
def test_each_contract_rule_is_answered_400_naming_the_field(simulator, base, path, value, field, reason):
    body = _set(copy.deepcopy(VALID[base]), path, value)
    response = send(simulator, body)
    assert response.status_code == 400, response.text
    problems = fields(response)
    assert field in problems, problems
    assert reason in problems[field]
    assert response.json()["error"]["code"] == 400
    assert simulator.stats()["accepted"] == 0


def test_several_problems_are_all_listed(simulator):
    body = text_message(msg_id="", to="123")
    body["rcsContent"]["content"]["text"] = ""
    problems = fields(send(simulator, body))
    assert {"msgId", "to", f"{C}.text"} <= set(problems)


def test_non_indian_fallback_needs_no_dlt_ids(simulator):
    body = {**text_message(), "smsContent": {"body": "Hello by SMS"}}
    assert send(simulator, body).status_code == 200


def test_not_json_wrong_content_type_too_big_wrong_method(simulator):
    url = f"{simulator.url}/generic/messages"
    bad = requests.post(url, data=b"{not json", headers={"Content-Type": "application/json"}, timeout=5)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]["message"]
    form = requests.post(url, data=b'{"a": 1}', headers={"Content-Type": "text/plain"}, timeout=5)
    assert form.status_code == 400 and "headers.Content-Type" in fields(form)
    big = text_message()
    big["rcsContent"]["customParam"] = [{"name": "pad", "value": "x" * 260_000}]
    too_big = send(simulator, big)
    assert too_big.status_code == 400 and "250 KB" in too_big.json()["error"]["message"]
    assert requests.get(url, timeout=5).status_code == 405
    assert requests.get(f"{simulator.url}/nowhere", timeout=5).status_code == 404


JIO_CARD = {
    "cardTitle": "Sale",
    "cardDescription": "Half price",
    "cardMedia": {
        "mediaHeight": "MEDIUM_HEIGHT",
        "contentInfo": {"fileUrl": "https://cdn.example.com/a.png"},
    },
    "suggestions": [
        {
            "action": {
                "plainText": "Shop",
                "postBack": {"data": "shop"},
                "openUrl": {"url": "https://example.com/shop"},
            }
        }
    ],
}


@pytest.mark.parametrize(
    "content",
    [
        {
            "plainText": "Hi",
            "suggestions": [
                {"reply": {"plainText": "Yes", "postBack": {"data": "yes"}}},
                {
                    "action": {
                        "plainText": "Call",
                        "postBack": {"data": "c"},
                        "dialerAction": {"phoneNumber": "+4930123"},
                    }
                },
            ],
        },
        {"richCardDetails": {"standalone": {"cardOrientation": "VERTICAL", "content": JIO_CARD}}},
        {"richCardDetails": {"carousel": {"cardWidth": "MEDIUM_WIDTH", "contents": [JIO_CARD, JIO_CARD]}}},
    ],
    ids=["text", "card", "carousel"],
)
def test_jiocx_valid_shapes_are_accepted(simulator, content):
    response = send_jiocx(simulator, jiocx_message(content=content, data_sms={"text": "fallback"}))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"messageID": "m" * 61}, "messageID", "at most 60"),
        ({"agentID": ""}, "agentID", "must not be empty"),
        ({"contacts": ["+4915112345671"]}, "contacts[0]", "without '+'"),
        ({"contacts": []}, "contacts", "at least one"),
        ({"data": {"content": {"plainText": "x" * 1001}}}, "data.content.plainText", "at most 1000"),
        ({"data": {"content": {"html": "<b>"}}}, "data.content", "needs plainText"),
        (
            {
                "data": {
                    "content": {
                        "richCardDetails": {"carousel": {"cardWidth": "MEDIUM", "contents": [JIO_CARD]}}
                    }
                }
            },
            "data.content.richCardDetails.carousel.cardWidth",
            "SMALL_WIDTH, MEDIUM_WIDTH",
        ),
        (
            {
                "data": {
                    "content": {
                        "richCardDetails": {"carousel": {"cardWidth": "SMALL_WIDTH", "contents": [JIO_CARD]}}
                    }
                }
            },
            "data.content.richCardDetails.carousel.contents",
            "2 to 10",
        ),
        (
            {
                "data": {
                    "content": {
                        "plainText": "Hi",
                        "suggestions": [{"reply": {"plainText": "y" * 26, "postBack": {"data": "y"}}}],
                    }
                }
            },
            "data.content.suggestions[0].reply.plainText",
            "at most 25",
        ),
        (
            {
                "data": {
                    "content": {
                        "plainText": "Hi",
                        "suggestions": [{"action": {"plainText": "Go", "postBack": {"data": "g"}}}],
                    }
                }
            },
            "data.content.suggestions[0].action",
            "openUrl",
        ),
    ],
)
def test_jiocx_rules_are_answered_400(simulator, change, field, reason):
    response = send_jiocx(simulator, {**jiocx_message(), **change})
    assert response.status_code == 400, response.text
    assert reason in fields(response)[field]


def test_jiocx_needs_the_api_key(simulator):
    assert send_jiocx(simulator, jiocx_message(), key=None).status_code == 401
    wrong = send_jiocx(simulator, jiocx_message(), key="nope")
    assert wrong.status_code == 401 and "headers.x-apikey" in fields(wrong)
    assert send_jiocx(simulator, jiocx_message(), key="sim-api-key").status_code == 200
