"""The audit log: every change and lifecycle action, with its actor, from every surface; secrets never."""

from __future__ import annotations

import io
import json

import pytest
from auditlog.models import LogEntry
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from campaigns.models import Campaign
from providers.models import Provider
from tests.api.factories import make_campaign, make_provider, make_template
from tests.providers.test_views import generic_data

PLANTED = "planted-Secret-value-93418"
ROTATED = "rotated-Secret-value-55102"


def _actions(obj) -> list[str]:
    entries = LogEntry.objects.get_for_object(obj).order_by("timestamp", "pk")
    return [e.additional_data["action"] for e in entries if e.additional_data]


def _everything_logged() -> str:
    return json.dumps(
        [
            [e.changes, e.changes_text, e.additional_data, e.object_repr, e.serialized_data]
            for e in LogEntry.objects.all()
        ],
        default=str,
    )


@pytest.fixture(autouse=True)
def _loopback(settings):
    """The provider form's example endpoints are on 127.0.0.1: allow-listed here, whatever `.env` says."""
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1", "localhost"]


@pytest.mark.django_db
def test_provider_create_and_secret_rotation_are_logged_without_the_secret(marketer_client, marketer):
    url = reverse("providers:create_kind", args=["generic_rcs"])
    assert marketer_client.post(url, generic_data(secret_client_secret=PLANTED)).status_code == 302
    provider = Provider.objects.get()
    edit = reverse("providers:edit", args=[provider.pk])
    assert marketer_client.post(edit, generic_data(secret_client_secret=ROTATED)).status_code == 302
    provider.refresh_from_db()
    assert provider.secrets["client_secret"] == ROTATED
    entries = list(LogEntry.objects.get_for_object(provider).order_by("timestamp", "pk"))
    assert entries[0].action == LogEntry.Action.CREATE
    assert all(e.actor == marketer for e in entries)
    rotation = [e for e in entries if "secrets" in e.changes_dict]
    assert rotation, "the secret change is recorded"
    assert rotation[-1].changes_dict["secrets"] == ["******", "******"]
    logged = _everything_logged()
    assert PLANTED not in logged and ROTATED not in logged
    admin = Client()
    from django.contrib.auth.models import User

    admin.force_login(User.objects.create_superuser("root", "r@example.com", "x"))
    page = admin.get(reverse("audit_log")).content.decode()
    assert "secrets" in page and PLANTED not in page and ROTATED not in page


@pytest.mark.django_db
def test_provider_lifecycle_actions_through_dashboard_and_api(marketer_client, marketer, sync_tasks):
    a, b = make_provider(), make_provider()
    for action in ("default", "disable", "enable"):
        marketer_client.post(reverse("providers:action", args=[b.pk, action]))
    token, _ = Token.objects.get_or_create(user=marketer)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.post(f"/api/providers/{a.pk}/mark-default/").status_code == 200
    assert api.patch(f"/api/providers/{a.pk}/", {"nickname": "Renamed"}, format="json").status_code == 200
    marketer_client.post(reverse("providers:archive", args=[b.pk]))
    assert _actions(b) == ["mark_default", "disable", "enable", "archive"]
    assert _actions(a) == ["mark_default"]
    api_entries = LogEntry.objects.get_for_object(a).filter(action=LogEntry.Action.UPDATE)
    assert all(e.actor == marketer for e in api_entries)  # the token's user, not "system"
    renamed = [e for e in api_entries if "nickname" in e.changes_dict]
    assert renamed and renamed[0].changes_dict["nickname"][1] == "Renamed"


@pytest.mark.django_db
def test_send_test_is_logged(marketer_client, marketer, monkeypatch):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    provider = make_provider()
    url = reverse("providers:send_test", args=[provider.pk])
    response = marketer_client.post(url, {"country_code": 91, "number": "9876543210", "rcs_text": "Hello"})
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    entry = LogEntry.objects.get_for_object(provider).get(additional_data__action="send_test")
    assert entry.actor == marketer


@pytest.mark.django_db
def test_campaign_lifecycle_through_dashboard_admin_and_command(marketer_client, marketer, admin_user_):
    campaign = make_campaign(
        scheduled_at=timezone.now() + timezone.timedelta(days=1),
        placeholder_mapping=[{"value": "friend"}],
    )
    response = marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "launch"]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    call_command("campaign_pause", str(campaign.pk))
    admin = Client()
    admin.force_login(admin_user_)
    changelist = reverse("admin:campaigns_campaign_changelist")
    admin.post(changelist, {"action": "campaign_resume", "_selected_action": [campaign.pk]})
    marketer_client.post(reverse("campaigns:action", args=[campaign.pk, "cancel"]))
    assert _actions(campaign) == ["launch", "pause", "resume", "cancel"]
    by_action = {
        e.additional_data["action"]: e.actor
        for e in LogEntry.objects.get_for_object(campaign)
        if e.additional_data
    }
    assert by_action == {"launch": marketer, "pause": None, "resume": admin_user_, "cancel": marketer}


@pytest.mark.django_db
def test_deletes_and_admin_changes_are_logged(marketer_client, admin_user_):
    provider = make_provider(nickname="Short-lived")
    pk = provider.pk
    admin = Client()
    admin.force_login(admin_user_)
    change = reverse("admin:providers_provider_change", args=[pk])
    data = {
        "nickname": "Via admin",
        "sender_id": provider.sender_id,
        "sms_sender_id": "",
        "enabled": "on",
        "concurrency": provider.concurrency or "",
        "max_rate": provider.max_rate or "",
        # the kind's declared fields, as on the dashboard form (an endpoint that resolves)
        **{f"cfg_{key}": value for key, value in provider.config.items() if not isinstance(value, list)},
        "cfg_endpoint": "http://127.0.0.1:9/rcs",
        "dlt_template_ids": "\n".join(provider.dlt_template_ids or []),
    }
    response = admin.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = LogEntry.objects.get_for_object(provider).filter(actor=admin_user_).latest("timestamp")
    assert entry.changes_dict["nickname"] == ["Short-lived", "Via admin"]
    marketer_client.post(reverse("providers:delete", args=[pk]))
    assert not Provider.objects.filter(pk=pk).exists()
    assert LogEntry.objects.filter(object_pk=str(pk), action=LogEntry.Action.DELETE).exists()


@pytest.mark.django_db
def test_audit_page_is_for_admins_with_filters(marketer_client, admin_user_, marketer):
    make_provider(nickname="Alpha")
    campaign = make_campaign(name="Beta launch")
    assert marketer_client.get(reverse("audit_log")).status_code == 403
    admin = Client()
    admin.force_login(admin_user_)
    page = admin.get(reverse("audit_log"), {"what": "campaign"}).content.decode()
    assert "Beta launch" in page and "Alpha" not in page
    assert "Nothing recorded" in admin.get(reverse("audit_log"), {"who": "marketer"}).content.decode()
    assert "Alpha" in admin.get(reverse("audit_log"), {"who": "system"}).content.decode()
    tomorrow = (timezone.now() + timezone.timedelta(days=1)).date().isoformat()
    assert "Nothing recorded" in admin.get(reverse("audit_log"), {"since": tomorrow}).content.decode()
    assert campaign.pk
    assert admin.get(reverse("admin:auditlog_logentry_changelist")).status_code == 200


# -- every lifecycle action, through every surface that offers it ----------------------------------------


def _api(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


def _admin(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# The status a campaign needs for the action.
BEFORE = {
    "launch": Campaign.Status.DRAFT,
    "pause": Campaign.Status.SENDING,
    "resume": Campaign.Status.PAUSED,
    "cancel": Campaign.Status.SENDING,
}
CAMPAIGN_SURFACES = [
    (action, surface)
    for action in BEFORE
    for surface in ("dashboard", "api", "admin", "command")
    if (action, surface) != ("launch", "admin")  # the admin offers no launch
]


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "surface"), CAMPAIGN_SURFACES)
def test_each_campaign_lifecycle_action_is_logged_on_each_surface(
    action, surface, marketer_client, marketer, admin_user_, monkeypatch
):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    campaign = make_campaign(
        scheduled_at=timezone.now() + timezone.timedelta(days=1),  # a launch schedules, writes no rows
        placeholder_mapping=[{"source": "literal", "value": "friend"}],
    )
    Campaign.objects.filter(pk=campaign.pk).update(status=BEFORE[action])
    if surface == "dashboard":
        response = marketer_client.post(reverse("campaigns:action", args=[campaign.pk, action]))
        assert response.status_code == 302
    elif surface == "api":
        assert _api(marketer).post(f"/api/campaigns/{campaign.pk}/{action}/").status_code == 200
    elif surface == "admin":
        changelist = reverse("admin:campaigns_campaign_changelist")
        data = {"action": f"campaign_{action}", "_selected_action": [campaign.pk]}
        assert _admin(admin_user_).post(changelist, data).status_code == 302
    else:
        call_command(f"campaign_{action}", str(campaign.pk))
    campaign.refresh_from_db()
    assert campaign.status != BEFORE[action], "the action ran"
    (entry,) = LogEntry.objects.get_for_object(campaign).filter(additional_data__action=action)
    expected = {"dashboard": marketer, "api": marketer, "admin": admin_user_, "command": None}[surface]
    assert entry.actor == expected


PROVIDER_SURFACES = [
    ("mark_default", "admin"),
    ("disable", "admin"),
    ("enable", "admin"),
    ("mark_default", "api"),
    ("disable", "api"),
    ("enable", "api"),
    ("archive", "api"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "surface"), PROVIDER_SURFACES)
def test_each_provider_action_is_logged_in_the_admin_and_the_api(action, surface, marketer, admin_user_):
    provider = make_provider(enabled=action != "enable")
    if surface == "admin":
        changelist = reverse("admin:providers_provider_changelist")
        data = {"action": action, "_selected_action": [provider.pk]}
        assert _admin(admin_user_).post(changelist, data).status_code == 302
    else:
        path = action.replace("_", "-")
        assert _api(marketer).post(f"/api/providers/{provider.pk}/{path}/").status_code == 200
    (entry,) = LogEntry.objects.get_for_object(provider).filter(additional_data__action=action)
    assert entry.actor == (admin_user_ if surface == "admin" else marketer)


@pytest.mark.django_db
def test_a_template_send_test_is_logged(marketer_client, marketer, monkeypatch):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    template = make_template(make_provider())
    url = reverse("templates_app:send_test", args=[template.pk])
    assert marketer_client.post(url, {"to": "+14155550199", "value_1": "Asha"}).status_code == 302
    entry = LogEntry.objects.get_for_object(template).get(additional_data__action="send_test")
    assert entry.actor == marketer and entry.additional_data["to"] == "+14155550199"


@pytest.mark.django_db
def test_a_secret_changed_through_the_api_is_logged_without_its_value(marketer):
    provider = make_provider(secrets={"client_secret": PLANTED})
    body = {"secrets": {"client_secret": ROTATED}}
    assert _api(marketer).patch(f"/api/providers/{provider.pk}/", body, format="json").status_code == 200
    provider.refresh_from_db()
    assert provider.secrets["client_secret"] == ROTATED
    entry = LogEntry.objects.get_for_object(provider).filter(actor=marketer).latest("timestamp")
    assert entry.changes_dict["secrets"] == ["******", "******"]
    logged = _everything_logged()
    assert PLANTED not in logged and ROTATED not in logged


@pytest.mark.django_db
def test_rotate_secrets_logs_each_row_and_field_never_a_value(settings):
    from django.db import connection

    provider = make_provider(secrets={"api_key": PLANTED}, callback_hmac_secrets=[ROTATED])
    table = connection.ops.quote_name(Provider._meta.db_table)

    def stored() -> tuple[str, str]:
        with connection.cursor() as cursor:
            sql = f"SELECT secrets, callback_hmac_secrets FROM {table} WHERE id = %s"  # noqa: S608
            cursor.execute(sql, [provider.pk])
            return cursor.fetchone()

    old_tokens = stored()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]

    call_command("rotate_secrets", stdout=io.StringIO())

    new_tokens = stored()
    assert all(new != old for new, old in zip(new_tokens, old_tokens, strict=True))
    assert Provider.objects.get(pk=provider.pk).secrets == {"api_key": PLANTED}
    (entry,) = LogEntry.objects.get_for_object(provider).filter(additional_data__action="rotate_secrets")
    assert entry.actor is None  # a management command: "system"
    assert set(entry.additional_data["fields"]) >= {"secrets", "callback_hmac_secrets"}
    logged = _everything_logged()
    for value in (PLANTED, ROTATED, *old_tokens, *new_tokens):
        assert value not in logged
