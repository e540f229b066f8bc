"""Delivery simulation: each callback shape (3a, 3b, 3c) and each callback knob, to a real receiver."""

from __future__ import annotations

import hashlib
import hmac
import time

from .helpers import eventually, jiocx_message, send, send_jiocx, text_message

FAST = {"callback_delay_ms": 5, "callback_backoff_ms": 10}
CHIPS = [
    {"type": "REPLY", "text": "Yes please", "postbackData": "yes-42"},
    {
        "type": "OPEN_URL",
        "text": "Open offer",
        "postbackData": "open-42",
        "url": "https://shop.example.com/o/42",
    },
]


def test_rcs_capable_number_gets_sent_delivered_read_in_shape_3a(simulator, receiver):
    simulator.configure(**FAST)
    assert send(simulator, text_message("m-1", callback_url=receiver.url)).status_code == 200
    posts = receiver.wait(3)
    assert receiver.statuses_for("m-1") == [("RCS", "sent"), ("RCS", "delivered"), ("RCS", "read")]
    body = posts[0]["json"]
    assert body["payloadVersion"] == "0.1"
    entry = body["statuses"][0]
    assert entry["msgId"] == "m-1" and isinstance(entry["timestamp"], int)
    assert posts[0]["headers"]["content-type"] == "application/json"
    assert "x-rcs-signature" not in posts[0]["headers"]
    eventually(lambda: simulator.stats()["callbacks"]["posted"] == 3)


def test_not_rcs_capable_falls_back_to_sms_in_shape_3b(simulator, receiver):
    simulator.configure(**FAST)
    body = {
        **text_message("m-2", to="+4915112345670", callback_url=receiver.url),
        "smsContent": {"body": "Hi"},
    }
    send(simulator, body)
    posts = receiver.wait(2)
    failed = posts[0]["json"]["statuses"][0]
    assert (failed["channel"], failed["status"]) == ("RCS", "failed") and failed["error"]["code"]
    assert posts[1]["json"] == [
        {
            "event": "delivered",
            "data": [
                {
                    "ts": posts[1]["json"][0]["data"][0]["ts"],
                    "meta": "m-2",
                    "toPhone": "+4915112345670",
                    "code": 0,
                    "description": "Delivered",
                }
            ],
        }
    ]


def test_not_rcs_capable_without_fallback_only_fails(simulator, receiver):
    simulator.configure(**FAST)
    send(simulator, text_message("m-3", to="+4915112345670", callback_url=receiver.url))
    receiver.wait(1)
    time.sleep(0.1)
    assert receiver.statuses_for("m-3") == [("RCS", "failed")]


def test_sms_fallback_can_fail_too_and_capability_rule_is_a_knob(simulator, receiver):
    simulator.configure(sms_fail_suffix="5", non_rcs_suffix="5", **FAST)
    send(
        simulator,
        {**text_message("m-4", to="+4915112345675", callback_url=receiver.url), "smsContent": {"body": "x"}},
    )
    send(simulator, text_message("m-5", to="+4915112345670", callback_url=receiver.url))
    receiver.wait(5)
    assert receiver.statuses_for("m-4") == [("RCS", "failed"), ("SMS", "failed")]
    assert [s for _, s in receiver.statuses_for("m-5")] == ["sent", "delivered", "read"]


def test_clicks_carry_the_url_and_replies_the_postback(simulator, receiver):
    simulator.configure(click_share=1.0, reply_share=1.0, **FAST)
    send(simulator, text_message("m-6", callback_url=receiver.url, suggestions=CHIPS))
    posts = receiver.wait(5)
    entries = [p["json"]["statuses"][0] for p in posts]
    click = next(e for e in entries if e["status"] == "clicked")
    assert click["url"] == "https://shop.example.com/o/42" and click["suggestionType"] == "OPEN_URL"
    assert click["postbackData"] == "open-42" and click["from"] == "+4915112345671"
    reply = next(e for e in entries if e["status"] == "replied")
    assert reply["postbackData"] == "yes-42" and reply["text"] == "Yes please"


def test_free_text_replies_and_no_click_without_a_url(simulator, receiver):
    simulator.configure(click_share=1.0, reply_share=1.0, free_text_share=1.0, reply_text="STOP", **FAST)
    send(simulator, text_message("m-7", callback_url=receiver.url))
    posts = receiver.wait(4)
    reply = posts[-1]["json"]["statuses"][0]
    assert reply["status"] == "replied" and reply["text"] == "STOP" and "postbackData" not in reply
    time.sleep(0.05)
    assert [s for _, s in receiver.statuses_for("m-7")] == ["sent", "delivered", "read", "replied"]


def test_read_share_zero_sends_no_reads(simulator, receiver):
    simulator.configure(read_share=0.0, **FAST)
    send(simulator, text_message("m-8", callback_url=receiver.url))
    receiver.wait(2)
    time.sleep(0.05)
    assert [s for _, s in receiver.statuses_for("m-8")] == ["sent", "delivered"]


def test_follow_clicks_opens_the_url_like_a_phone(simulator, receiver):
    chips = [{"type": "OPEN_URL", "text": "Open", "postbackData": "o", "url": receiver.url + "/c/abc"}]
    simulator.configure(click_share=1.0, follow_clicks=True, **FAST)
    send(simulator, text_message("m-9", callback_url=receiver.url, suggestions=chips))
    receiver.wait(4)
    deadline = time.monotonic() + 3
    while not [c for c in receiver.calls if c["method"] == "GET"] and time.monotonic() < deadline:
        time.sleep(0.01)
    visit = next(c for c in receiver.calls if c["method"] == "GET")
    assert visit["path"] == "/cb/c/abc" and "Mobile" in visit["headers"]["user-agent"]


def test_hmac_signature_of_the_raw_body(simulator, receiver):
    simulator.configure(hmac_secret="s3cret", **FAST)
    send(simulator, text_message("m-10", callback_url=receiver.url))
    post = receiver.wait(1)[0]
    expected = hmac.new(b"s3cret", post["raw"], hashlib.sha256).hexdigest()
    assert post["headers"]["x-rcs-signature"] == f"sha256={expected}"
    assert simulator.configure()["hmac_secret"] == "***"


def test_duplicates_post_every_callback_twice(simulator, receiver):
    simulator.configure(duplicate_callbacks=1.0, **FAST)
    send(simulator, text_message("m-11", callback_url=receiver.url))
    receiver.wait(6)
    statuses = [s for _, s in receiver.statuses_for("m-11")]
    assert sorted(statuses) == sorted(["sent", "delivered", "read"] * 2)


def test_shuffle_changes_the_order(simulator, receiver):
    simulator.configure(shuffle_callbacks=True, **FAST)
    for i in range(12):
        send(simulator, text_message(f"s-{i}", callback_url=receiver.url))
    receiver.wait(36)
    orders = {tuple(s for _, s in receiver.statuses_for(f"s-{i}")) for i in range(12)}
    assert all(sorted(order) == ["delivered", "read", "sent"] for order in orders)
    assert orders != {("sent", "delivered", "read")}


def test_early_callback_arrives_before_the_send_response(simulator, receiver):
    simulator.configure(early_callbacks=True, callback_delay_ms=200)
    send(simulator, text_message("m-12", callback_url=receiver.url))
    answered = time.monotonic()
    assert receiver.calls and receiver.calls[0]["at"] < answered
    assert receiver.statuses_for("m-12") == [("RCS", "sent")]


def test_5xx_is_retried_with_backoff(simulator, receiver):
    simulator.configure(callback_retries=3, read_share=0.0, callback_delay_ms=300, callback_backoff_ms=10)
    receiver.statuses = [500, 503]
    send(simulator, text_message("m-13", callback_url=receiver.url))
    posts = receiver.wait(4)
    assert [s for _, s in receiver.statuses_for("m-13")][:3] == ["sent", "sent", "sent"]
    eventually(lambda: simulator.stats()["callbacks"]["posted"] == 2)
    stats = simulator.stats()["callbacks"]
    assert stats["retried"] == 2 and stats["failed"] == 0
    assert posts[0]["raw"] == posts[1]["raw"]


def test_retries_are_bounded(simulator, receiver):
    simulator.configure(callback_retries=2, read_share=0.0, callback_delay_ms=5, callback_backoff_ms=5)
    receiver.statuses = [500] * 20
    send(simulator, text_message("m-14", callback_url=receiver.url))
    receiver.wait(6)
    eventually(lambda: simulator.stats()["callbacks"]["failed"] == 2)
    time.sleep(0.1)
    assert len(receiver.calls) == 6  # two events, three attempts each
    assert simulator.callbacks()[0]["attempts"] == 3


def test_4xx_is_not_retried(simulator, receiver):
    simulator.configure(read_share=0.0, **FAST)
    receiver.statuses = [400, 400]
    send(simulator, text_message("m-15", callback_url=receiver.url))
    receiver.wait(2)
    eventually(lambda: simulator.stats()["callbacks"]["rejected"] == 2)
    time.sleep(0.1)
    assert len(receiver.calls) == 2


def test_batches_group_statuses(simulator, receiver):
    simulator.configure(
        callback_batch=50, callback_batch_window_ms=300, read_share=0.0, callback_delay_ms=200
    )
    for i in range(5):
        send(simulator, text_message(f"b-{i}", callback_url=receiver.url))
    eventually(lambda: sum(len(c["json"]["statuses"]) for c in receiver.calls) >= 10)
    time.sleep(0.1)
    assert sum(len(c["json"]["statuses"]) for c in receiver.calls) == 10
    assert len(receiver.calls) < 10


def test_callbacks_off_and_resent_msg_id_are_not_delivered_twice(simulator, receiver):
    simulator.configure(**FAST)
    send(simulator, text_message("m-16", callback_url=receiver.url))
    send(simulator, text_message("m-16", callback_url=receiver.url))  # a retry: vendors dedupe on msgId
    receiver.wait(3)
    time.sleep(0.1)
    assert len(receiver.statuses_for("m-16")) == 3
    stats = simulator.stats()
    assert stats["duplicate_msg_ids"] == 1 and stats["duplicate_accepted"] == 1
    simulator.configure(callbacks=False)
    send(simulator, text_message("m-17", callback_url=receiver.url))
    time.sleep(0.1)
    assert receiver.statuses_for("m-17") == []


def test_jiocx_callbacks_in_shape_3c_to_the_agent_webhook(simulator, receiver):
    simulator.configure(jiocx_webhooks={"agent-1": receiver.url}, reply_share=1.0, **FAST)
    content = {
        "plainText": "Hi",
        "suggestions": [{"reply": {"plainText": "Yes", "postBack": {"data": "y-1"}}}],
    }
    send_jiocx(simulator, jiocx_message("j-1", content=content))
    send_jiocx(simulator, jiocx_message("j-2", contact="4915112345670", data_sms={"text": "fallback"}))
    posts = receiver.wait(6)
    bodies = [p["json"] for p in posts]
    one = [b for b in bodies if "j-1" in (b["entity"]["messageId"], b["entity"].get("replyToMessageId"))]
    assert [b["entity"].get("eventType") for b in one] == [
        "SEND_MESSAGE_SUCCESS",
        "MESSAGE_DELIVERED",
        "MESSAGE_READ",
        None,
    ]
    assert one[0]["entityType"] == "STATUS_EVENT" and one[0]["userPhoneNumber"] == "4915112345671"
    assert one[-1]["entityType"] == "USER_MESSAGE" and one[-1]["entity"]["messageId"].startswith("in-")
    assert one[-1]["entity"]["suggestionResponse"] == {
        "plainText": "Yes",
        "postBack": {"data": "y-1"},
        "type": "REPLY",
    }
    two = [b for b in bodies if b["entity"]["messageId"] == "j-2"]
    assert [(b["entity"]["eventType"], b["entity"]["channel"]) for b in two] == [
        ("SEND_MESSAGE_FAILURE", "RCS"),
        ("SMS_DELIVERED", "SMS"),
    ]


def test_jiocx_without_a_webhook_posts_nothing(simulator, receiver):
    simulator.configure(**FAST)
    assert send_jiocx(simulator, jiocx_message("j-3")).status_code == 200
    time.sleep(0.1)
    assert receiver.calls == []
