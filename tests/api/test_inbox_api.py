"""The inbox over the API: conversations (filters, pages), a conversation's entries, answering; per role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Contact, InboxMessage, Message
from tests.api.factories import make_audience, make_campaign, make_message

pytestmark = pytest.mark.django_db
ASHA, BOB = "+919812345678", "+14155550123"


def entry(provider, phone, text, *, direction="in", message=None, minutes=0) -> InboxMessage:
    return InboxMessage.objects.create(
        provider=provider,
        phone=phone,
        direction=direction,
        text=text,
        message=message,
        created_at=timezone.now() - timedelta(minutes=60 - minutes),
    )


@pytest.fixture
def world():
    campaign = make_campaign(audience=make_audience(phones=[ASHA]), name="Diwali")
    Contact.objects.filter(phone=ASHA).update(attributes={"name": "Asha"})
    provider = campaign.provider
    sent = make_message(provider, campaign, to=ASHA, content={"type": "TEXT", "text": "Diwali sale!"})
    entry(provider, ASHA, "Is it on shoes too?", message=sent, minutes=1)
    entry(provider, BOB, "hello there", minutes=2)
    entry(provider, BOB, "Hi Bob, how can we help?", direction="out", minutes=3)
    return provider, sent


def client_for(role: str | None) -> APIClient:
    client = APIClient()
    if role == "admin":
        client.force_authenticate(User.objects.create_superuser("boss", "b@example.com", "correct-horse-9"))
    elif role:
        user = User.objects.create_user(role.lower(), password="correct-horse-9")
        user.groups.add(Group.objects.get(name=role))
        client.force_authenticate(user)
    return client


def test_conversations_filters_and_pages(api, world):
    provider, _ = world
    body = api.get("/api/inbox/conversations/").json()
    assert body["count"] == 2
    assert [c["phone"] for c in body["results"]] == [BOB, ASHA]  # most recent first
    bob, asha = body["results"]
    assert bob["unread"] is False and bob["last_direction"] == "out" and bob["entries"] == 2
    assert asha["unread"] is True and asha["contact"]["name"] == "Asha" and asha["provider_id"] == provider.pk
    unread = api.get("/api/inbox/conversations/?unread=true").json()
    assert [c["phone"] for c in unread["results"]] == [ASHA] and unread["count"] == 1
    answered = api.get("/api/inbox/conversations/?unread=false").json()
    assert [c["phone"] for c in answered["results"]] == [BOB]
    # encoded, without "+", "+" read as a space, written with spaces (rcsconnect.phone reads them all)
    for phone in ("%2B14155550123", "14155550123", BOB, "%2B1%20415%20555%200123"):
        found = api.get(f"/api/inbox/conversations/?phone={phone}").json()["results"]
        assert [c["phone"] for c in found] == [BOB]
    assert api.get("/api/inbox/conversations/?q=shoes").json()["count"] == 1
    page = api.get("/api/inbox/conversations/?limit=1&offset=1").json()
    assert page["count"] == 2 and [c["phone"] for c in page["results"]] == [ASHA] and page["previous"]
    bad = api.get("/api/inbox/conversations/?unread=maybe")
    assert bad.status_code == 400 and "unread" in bad.json()


def test_messages_are_chronological_with_the_message_each_answers(api, world):
    provider, sent = world
    entries = api.get(f"/api/inbox/conversations/{provider.pk}/{BOB}/messages/").json()["results"]
    assert [(e["direction"], e["text"]) for e in entries] == [
        ("in", "hello there"),
        ("out", "Hi Bob, how can we help?"),
    ]
    (asha,) = api.get(f"/api/inbox/conversations/{provider.pk}/{ASHA}/messages/").json()["results"]
    assert asha["message"]["id"] == sent.pk and asha["message"]["text"] == "Diwali sale!"
    assert asha["message"]["campaign"] == "Diwali"
    missing = api.get(f"/api/inbox/conversations/{provider.pk}/+10000000000/messages/")
    assert missing.status_code == 404 and "detail" in missing.json()


def test_reply_queues_a_message_like_the_dashboard(api, marketer, world):
    provider, _ = world
    url = f"/api/inbox/conversations/{provider.pk}/{ASHA}/reply/"
    response = api.post(url, {"text": "Yes, 20% off shoes"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["direction"] == "out" and body["created_by"] == "marketer"
    message = Message.objects.get(pk=body["message"]["id"])
    assert (
        message.to == ASHA and message.content["text"] == "Yes, 20% off shoes" and message.status == "queued"
    )
    empty = api.post(url, {"text": "   "}, format="json")
    assert empty.status_code == 400 and empty.json() == {"text": ["Type an answer."]}
    Contact.objects.filter(phone=ASHA).update(subscribed=False)
    stopped = api.post(url, {"text": "still there?"}, format="json")
    assert stopped.status_code == 400 and "unsubscribed" in stopped.json()["text"][0]
    nowhere = api.post(
        f"/api/inbox/conversations/{provider.pk}/+10000000000/reply/", {"text": "x"}, format="json"
    )
    assert nowhere.status_code == 404


@pytest.mark.parametrize(
    ("role", "read", "reply"),
    [("admin", 200, 201), ("Marketer", 200, 201), ("Support", 200, 403), (None, 401, 401)],
)
def test_role_matrix(world, role, read, reply):
    provider, _ = world
    client = client_for(role)
    assert client.get("/api/inbox/conversations/").status_code == read
    assert client.get(f"/api/inbox/conversations/{provider.pk}/{BOB}/messages/").status_code == read
    response = client.post(
        f"/api/inbox/conversations/{provider.pk}/{BOB}/reply/", {"text": "hi"}, format="json"
    )
    assert response.status_code == reply
    assert InboxMessage.objects.filter(direction="out").count() == (2 if reply == 201 else 1)


def test_schema_types_the_inbox(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    reply = schema["paths"]["/api/inbox/conversations/{provider_id}/{phone}/reply/"]["post"]
    assert {"201", "400", "403", "404"} <= set(reply["responses"])
    assert reply["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("ReplyRequest")
    listing = schema["paths"]["/api/inbox/conversations/"]["get"]
    assert {"unread", "phone", "limit", "offset"} <= {p["name"] for p in listing["parameters"]}
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert "Paginated" in page["$ref"] or "results" in str(page)
