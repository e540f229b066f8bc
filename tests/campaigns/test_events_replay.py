"""manage.py replay_callbacks: reprocesses stored bodies idempotently, with --since/--provider."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from campaigns.models import Campaign, Message
from providers.callbacks import callback_receive
from providers.models import CallbackLog, Provider, ProviderEvent
from tests.api.factories import make_campaign, make_message

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sync_tasks")]


def body(*events) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def replay(*args) -> str:
    out = StringIO()
    call_command("replay_callbacks", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_replay_rebuilds_lost_events_and_a_second_replay_changes_nothing(double_provider):
    campaign = make_campaign(double_provider)
    make_message(double_provider, campaign, msg_id="m-1")
    callback_receive(provider=double_provider, body=body({"msgId": "m-1", "status": "sent"}))
    callback_receive(provider=double_provider, body=body({"msgId": "m-1", "status": "delivered"}))
    # Simulate a bug that lost the events and the message's progress.
    ProviderEvent.objects.all().delete()
    Message.objects.update(status="queued", rcs_status="", sent_at=None, delivered_at=None, delivered_via="")
    Campaign.objects.update(sent_count=0, delivered_rcs_count=0)

    assert "replayed 2 callbacks (0 not recognised): 2 events read, 2 new" in replay()
    message = Message.objects.get()
    assert message.status == "delivered" and message.delivered_via == "RCS"
    campaign.refresh_from_db()
    assert (campaign.sent_count, campaign.delivered_rcs_count) == (1, 1)

    state = list(Message.objects.values()), list(Campaign.objects.values())
    assert "2 events read, 0 new, 0 waiting events applied" in replay()
    assert (list(Message.objects.values()), list(Campaign.objects.values())) == state
    assert ProviderEvent.objects.count() == 2


def test_replay_applies_events_that_waited_for_their_message(double_provider):
    callback_receive(provider=double_provider, body=body({"msgId": "late", "status": "read"}))
    make_message(double_provider, msg_id="late")
    assert ProviderEvent.objects.get().applied is False
    assert replay().endswith(
        "1 events read, 0 new, 1 waiting events applied, 0 still waiting for their message\n"
    )
    assert Message.objects.get().status == "read"


def test_replay_after_a_kind_learns_a_shape(double_provider, monkeypatch):
    make_message(double_provider, msg_id="m-1")
    response = callback_receive(provider=double_provider, body=b'{"msg": "m-1", "state": "delivered"}')
    assert response.http_status == 400
    kind = double_provider.kind_class
    original = kind.parse_callback

    def learned(self, data):
        if "msg" in data:
            data = {"events": [{"msgId": data["msg"], "status": data["state"]}]}
        return original(self, data)

    monkeypatch.setattr(kind, "parse_callback", learned)
    assert "1 events read, 1 new" in replay("--errors-only")
    assert Message.objects.get().status == "delivered"
    assert CallbackLog.objects.get().error == ""


def test_filters_by_provider_and_since(double_provider):
    other = Provider.objects.create(kind=double_provider.kind, nickname="Other", sender_id="o")
    make_message(double_provider, msg_id="a")
    make_message(other, msg_id="b")
    callback_receive(provider=double_provider, body=body({"msgId": "a", "status": "sent"}))
    callback_receive(provider=other, body=body({"msgId": "b", "status": "sent"}))
    CallbackLog.objects.filter(provider=other).update(received_at=timezone.now() - timedelta(days=3))
    ProviderEvent.objects.all().delete()

    assert "replayed 1 callbacks" in replay("--provider", "Other")
    assert set(ProviderEvent.objects.values_list("msg_id", flat=True)) == {"b"}
    assert "replayed 1 callbacks" in replay("--since", "2d")
    assert "replayed 0 callbacks" in replay("--provider", str(double_provider.pk), "--until", "1d")
    assert "replayed 2 callbacks" in replay(
        "--since", (timezone.now() - timedelta(days=5)).date().isoformat()
    )


def test_bad_arguments_are_clear_errors(double_provider):
    with pytest.raises(CommandError, match="no provider"):
        replay("--provider", "nobody")
    with pytest.raises(CommandError, match="cannot read"):
        replay("--since", "last tuesday")
