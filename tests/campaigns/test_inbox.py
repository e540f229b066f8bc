"""Inbox: conversations per number, search, threads linked to the answered message, answering."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns import inbox, services
from campaigns.events import events_applier_run
from campaigns.models import Contact, InboxMessage, Message
from tests.api.factories import make_audience, make_campaign, make_message

pytestmark = pytest.mark.django_db


def inbound(provider, phone, text, *, message=None, minutes=0, **kw) -> InboxMessage:
    return InboxMessage.objects.create(
        provider=provider,
        phone=phone,
        direction=InboxMessage.Direction.INBOUND,
        text=text,
        message=message,
        created_at=timezone.now() - timedelta(minutes=60 - minutes),
        **kw,
    )


@pytest.fixture
def conversation():
    campaign = make_campaign(audience=make_audience(phones=["+919812345678"]))
    provider = campaign.provider
    sent = make_message(
        provider, campaign, to="+919812345678", content={"type": "TEXT", "text": "Diwali sale!"}
    )
    inbound(provider, "+919812345678", "Is it on shoes too?", message=sent, minutes=1)
    inbound(provider, "+919812345678", "", message=sent, minutes=2, postback_data="more_info")
    inbound(provider, "+14155550123", "hello there", minutes=3)
    return provider, sent


def test_list_search_and_thread(marketer_client, conversation):
    provider, sent = conversation
    html = marketer_client.get("/inbox/").content.decode()
    assert html.index("+14155550123") < html.index("+919812345678")  # most recent first
    html = marketer_client.get("/inbox/?q=shoes").content.decode()
    assert "+919812345678" in html and "+14155550123" not in html
    assert "No conversation matches" in marketer_client.get("/inbox/?q=zzz").content.decode()
    html = marketer_client.get(f"/inbox/{provider.pk}/+919812345678/").content.decode()
    assert "Is it on shoes too?" in html and "more_info" in html
    assert "Diwali sale!" in html and sent.campaign.name in html  # linked to the message it answers
    assert marketer_client.get(f"/inbox/{provider.pk}/+10000000000/").status_code == 404


def test_answer_is_queued_through_the_provider_and_shown_with_its_status(
    marketer_client, marketer, conversation, simulator, django_capture_on_commit_callbacks
):
    provider, _ = conversation
    provider.config = {**provider.config, "endpoint": f"{simulator.url}/generic/messages"}
    provider.save()
    simulator.configure(callbacks=False)
    url = f"/inbox/{provider.pk}/+919812345678/"
    with django_capture_on_commit_callbacks():  # the dispatch kick; run it explicitly below
        response = marketer_client.post(f"{url}reply/", {"text": "Yes, 20% off shoes"})
    assert response.status_code == 302
    entry = InboxMessage.objects.get(direction="out")
    assert entry.created_by == marketer and entry.message.to == "+919812345678"
    assert entry.message.content == {"type": "TEXT", "text": "Yes, 20% off shoes", "suggestions": []}
    assert entry.message.campaign is None and entry.message.provider == provider
    assert "Queued" in marketer_client.get(url).content.decode()

    services.dispatch_run(provider_id=provider.pk, budget=3)
    entry.message.refresh_from_db()
    assert entry.message.status == "sent"
    sent = [r["json"] for r in simulator.requests() if r["path"] == "/generic/messages"]
    assert sent[-1]["rcsContent"]["content"]["text"] == "Yes, 20% off shoes"

    body = {
        "payloadVersion": "0.1",
        "statuses": [
            {
                "msgId": entry.message.msg_id,
                "channel": "RCS",
                "status": "delivered",
                "timestamp": int(timezone.now().timestamp()),
            }
        ],
    }
    response = marketer_client.post(
        reverse("callback", args=[provider.callback_token]), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    events_applier_run()  # the applier task the callback queued applies the stored event
    html = marketer_client.get(url, HTTP_HX_REQUEST="true", data={"part": "entries"}).content.decode()
    assert "Delivered via RCS" in html and "<ol" in html and "<html" not in html


def test_bad_answers_are_refused_next_to_the_box(marketer_client, conversation):
    provider, _ = conversation
    url = f"/inbox/{provider.pk}/+919812345678/reply/"
    response = marketer_client.post(url, {"text": "   "})
    assert response.status_code == 400 and "Type an answer" in response.content.decode()
    response = marketer_client.post(url, {"text": "x" * 1001})
    assert response.status_code == 400 and "1000" in response.content.decode()
    Contact.objects.filter(phone="+919812345678").update(subscribed=False)
    response = marketer_client.post(url, {"text": "hello"})
    assert response.status_code == 400 and "unsubscribed" in response.content.decode()
    assert not Message.objects.filter(campaign=None).exists()
    with pytest.raises(inbox.InboxError):
        inbox.inbox_reply(provider=provider, phone="+10000000000", text="hi", user=None)


def test_support_can_read_but_not_answer(client, conversation):
    from django.contrib.auth.models import Group, User

    provider, _ = conversation
    user = User.objects.create_user("support", password="correct-horse-9")
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    assert client.get("/inbox/").status_code == 200
    assert client.post(f"/inbox/{provider.pk}/+919812345678/reply/", {"text": "hi"}).status_code == 403


def test_thread_names_the_contact_and_quotes_the_card_a_reply_answers(marketer_client):
    audience = make_audience(phones=["+919812345679"])
    Contact.objects.filter(phone="+919812345679").update(
        attributes={"First_Name": "Asha", "last_name": "Rao"}
    )
    campaign = make_campaign(audience=audience)
    card = {"type": "RICH_CARD", "card": {"title": "Weekend sale: 30% off", "description": "Ends Sunday."}}
    sent = make_message(campaign.provider, campaign, to="+919812345679", content=card)
    inbound(campaign.provider, "+919812345679", "Which shops?", message=sent, minutes=1)
    html = marketer_client.get(f"/inbox/{campaign.provider.pk}/+919812345679/").content.decode()
    assert '<span id="contact-name">Asha Rao</span>' in html and '<b class="who">Asha Rao</b>' in html
    assert '<blockquote class="answered">Weekend sale: 30% off</blockquote>' in html


def test_contact_name_comes_from_name_attributes():
    assert Contact(phone="+1", attributes={"name": "Meera"}).name == "Meera"
    assert Contact(phone="+1", attributes={"full_name": "Dev K"}).name == "Dev K"
    assert Contact(phone="+1", attributes={"first_name": "Ravi"}).name == "Ravi"
    assert Contact(phone="+1", attributes={"order": "A-1"}).name == ""


def test_the_list_marks_and_filters_conversations_awaiting_an_answer(marketer_client, conversation):
    provider, _ = conversation
    InboxMessage.objects.create(
        provider=provider, phone="+14155550123", direction=InboxMessage.Direction.OUTBOUND, text="Hi!"
    )
    html = marketer_client.get("/inbox/").content.decode()
    rows = {n: html[html.index(n) :].split("</tr>")[0] for n in ("+919812345678", "+14155550123")}
    assert "awaiting answer" in rows["+919812345678"] and "awaiting answer" not in rows["+14155550123"]
    assert "Awaiting an answer (1)" in html
    html = marketer_client.get("/inbox/?awaiting=1").content.decode()
    assert "+919812345678" in html and "+14155550123" not in html
