"""Provider pages: every field, invalid input saves nothing, operations, write-only secrets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from providers.models import Provider
from providers.services import provider_mark_default

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1", "localhost"]


def kv(prefix, rows):
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": "0"}
    for i, (name, value) in enumerate(rows):
        data[f"{prefix}-{i}-name"], data[f"{prefix}-{i}-value"] = name, value
    return data


def generic_data(**overrides):
    data = {
        "nickname": "Acme RCS",
        "sender_id": "acme-agent",
        "enabled": "on",
        "cfg_method": "PUT",
        "cfg_endpoint": "https://127.0.0.1:8443/messages",
        "cfg_auth_type": "oauth2",
        "cfg_client_url": "https://127.0.0.1:8443/oauth/token",
        "cfg_client_id": "client-1",
        "secret_client_secret": "s3cret-client",
        "concurrency": "50",
        "max_rate": "4600",
        "sms_fallback": "on",
        "sms_sender_id": "ACMEIN",
        "india": "on",
        "principal_entity_id": "1201159100000000001",
        "dlt_template_ids": "1207161000000000001, 1207161000000000002",
        **kv("headers", [("X-One", "1"), ("X-Two", "2"), ("X-Three", "3")]),
        **kv("rcs_params", [("brand", "acme")]),
        **kv("extra_params", [("scope", "rcs")]),
        **kv("sms_params", [("route", "tx")]),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def create(client, **overrides):
    return client.post(reverse("providers:create_kind", args=["generic_rcs"]), generic_data(**overrides))


def test_create_generic_with_every_field(marketer_client):
    response = create(marketer_client, make_default="on")
    assert response.status_code == 302, response.content.decode()[:2000]
    p = Provider.objects.get(nickname="Acme RCS")
    assert p.kind == "generic_rcs" and p.is_default
    assert p.config["method"] == "PUT" and p.config["auth_type"] == "oauth2"
    assert p.config["headers"] == [
        {"name": "X-One", "value": "1"},
        {"name": "X-Two", "value": "2"},
        {"name": "X-Three", "value": "3"},
    ]
    assert p.config["extra_params"] == [{"name": "scope", "value": "rcs"}]
    assert p.secrets == {"client_secret": "s3cret-client"}
    assert (p.concurrency, p.max_rate) == (50, 4600)
    assert p.dlt_template_ids == ["1207161000000000001", "1207161000000000002"]
    assert p.sms_params == [{"name": "route", "value": "tx"}]


def test_edit_page_never_renders_secrets_and_blank_keeps_them(marketer_client):
    create(marketer_client)
    p = Provider.objects.get()
    page = marketer_client.get(reverse("providers:edit", args=[p.pk])).content.decode()
    assert "s3cret-client" not in page
    assert "Stored. Leave blank to keep it." in page
    assert "X-Three" in page
    response = marketer_client.post(
        reverse("providers:edit", args=[p.pk]), generic_data(secret_client_secret="", nickname="Acme 2")
    )
    assert response.status_code == 302
    p.refresh_from_db()
    assert p.nickname == "Acme 2" and p.secrets["client_secret"] == "s3cret-client"
    marketer_client.post(reverse("providers:edit", args=[p.pk]), generic_data(secret_client_secret="rotated"))
    p.refresh_from_db()
    assert p.secrets["client_secret"] == "rotated"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"cfg_endpoint": "not a url"}, "cfg_endpoint", "Enter a valid URL."),
        ({"cfg_endpoint": "http://vendor.example.com/send"}, "cfg_endpoint", "Use an https:// URL."),
        ({"cfg_endpoint": "https://10.1.2.3/send"}, "cfg_endpoint", "private, loopback or reserved"),
        (
            {"cfg_client_url": "https://169.254.169.254/token"},
            "cfg_client_url",
            "private, loopback or reserved",
        ),
        ({"concurrency": "0"}, "concurrency", "greater than or equal to 1"),
        ({"max_rate": "5000"}, "max_rate", "less than or equal to 4600"),
        ({"principal_entity_id": ""}, "principal_entity_id", "India requires the Principal Entity ID"),
        ({"dlt_template_ids": "12ab"}, "dlt_template_ids", "digits only"),
        ({"dlt_template_ids": ""}, "dlt_template_ids", "India requires at least one DLT"),
        ({"principal_entity_id": "12-34"}, "principal_entity_id", "digits only"),
        ({"secret_client_secret": ""}, "secret_client_secret", "Required"),
        ({"cfg_auth_type": "basic"}, "cfg_username", "Required for this authentication"),
        ({"sms_sender_id": ""}, "sms_sender_id", "SMS sender ID"),
        ({"headers-1-name": ""}, None, "Enter a name, or remove the row."),
    ],
)
def test_invalid_input_gives_field_errors_and_saves_nothing(marketer_client, overrides, field, message):
    response = create(marketer_client, **overrides)
    assert response.status_code == 200
    form = response.context["form"]
    if field:
        assert message in " ".join(form.errors.get(field, [])), form.errors
    else:
        assert message in response.content.decode()
    assert not Provider.objects.exists()


def test_duplicate_nickname_is_refused(marketer_client):
    create(marketer_client)
    response = create(marketer_client, nickname="acme rcs")
    assert "Another provider already has this nickname." in response.context["form"].errors["nickname"]
    assert Provider.objects.count() == 1


def test_jiocx_needs_api_key_and_custom_domain(marketer_client):
    url = reverse("providers:create_kind", args=["jiocx"])
    data = {
        "nickname": "Jio",
        "sender_id": "agent",
        "enabled": "on",
        "cfg_base_url": "https://127.0.0.1/jio",
        "cfg_click_tracking": "custom",
        **kv("sms_params", []),
    }
    errors = marketer_client.post(url, data).context["form"].errors
    assert "Required." in errors["secret_api_key"]
    assert "Enter the custom click tracking domain." in errors["cfg_click_domain"]
    data.update(secret_api_key="k-123456", cfg_click_domain="go.acme.in")
    assert marketer_client.post(url, data).status_code == 302
    assert Provider.objects.get().secrets == {"api_key": "k-123456"}


def make(nickname, **fields):
    return Provider.objects.create(
        kind="generic_rcs",
        nickname=nickname,
        sender_id="s",
        config={"endpoint": "https://x.example.com", "auth_type": "none"},
        **fields,
    )


def test_list_shows_default_badge_and_mark_default_moves_it(marketer_client):
    a, b = make("Alpha", is_default=True), make("Beta")
    page = marketer_client.get(reverse("providers:list")).content.decode()
    assert page.count("default-badge") == 1
    marketer_client.post(reverse("providers:action", args=[b.pk, "default"]))
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.is_default, b.is_default) == (False, True)


def test_one_default_is_enforced_by_the_database():
    from django.db import IntegrityError, transaction

    make("Alpha", is_default=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        make("Beta", is_default=True)


def test_disable_archive_duplicate_delete(marketer_client):
    a = make("Alpha", is_default=True, secrets={"password": "pw-1234"})
    marketer_client.post(reverse("providers:action", args=[a.pk, "disable"]))
    a.refresh_from_db()
    assert (a.enabled, a.is_default) == (False, False)
    response = marketer_client.post(reverse("providers:action", args=[a.pk, "default"]))
    a.refresh_from_db()
    assert not a.is_default
    marketer_client.post(reverse("providers:action", args=[a.pk, "duplicate"]))
    copy = Provider.objects.get(nickname="Alpha (copy)")
    assert copy.secrets == {"password": "pw-1234"} and copy.callback_token != a.callback_token
    assert marketer_client.get(reverse("providers:archive", args=[a.pk])).status_code == 200
    marketer_client.post(reverse("providers:archive", args=[a.pk]))
    a.refresh_from_db()
    assert a.archived_at is not None
    response = marketer_client.get(reverse("providers:delete", args=[copy.pk]))
    assert b"No campaign uses this provider" in response.content
    marketer_client.post(reverse("providers:delete", args=[copy.pk]))
    assert not Provider.objects.filter(pk=copy.pk).exists()


def test_archive_pauses_running_campaigns_and_delete_lists_them(marketer_client, marketer):
    from campaigns.models import Audience, Campaign
    from templates_app.models import MessageTemplate

    p = make("Alpha")
    template = MessageTemplate.objects.create(provider=p, name="t1", content={"type": "TEXT", "text": "hi"})
    audience = Audience.objects.create(name="aud")
    running = Campaign.objects.create(
        name="Diwali", provider=p, template=template, audience=audience, status="sending"
    )
    page = marketer_client.get(reverse("providers:delete", args=[p.pk])).content.decode()
    assert "Diwali" in page and "Archive instead" in page
    marketer_client.post(reverse("providers:delete", args=[p.pk]))
    assert Provider.objects.filter(pk=p.pk).exists()
    assert "Diwali" in marketer_client.get(reverse("providers:archive", args=[p.pk])).content.decode()
    marketer_client.post(reverse("providers:archive", args=[p.pk]))
    running.refresh_from_db()
    assert running.status == "paused" and running.paused_at is not None


def test_callback_secrets_rotate_two_at_a_time(marketer_client):
    create(marketer_client)
    p = Provider.objects.get()
    url = reverse("providers:edit", args=[p.pk])
    marketer_client.post(url, generic_data(secret_client_secret="", callback_hmac_secret="first-secret"))
    marketer_client.post(
        url,
        generic_data(
            secret_client_secret="",
            callback_hmac_secret="second-secret",
            callback_basic_username="vendor",
            callback_basic_password="pw-one",
        ),
    )
    p.refresh_from_db()
    assert p.callback_hmac_secrets == ["second-secret", "first-secret"]
    assert p.callback_basic_credentials == [{"username": "vendor", "password": "pw-one"}]
    page = (
        marketer_client.get(url).content.decode() + marketer_client.get(p.get_absolute_url()).content.decode()
    )
    assert "second-secret" not in page and "first-secret" not in page and "pw-one" not in page
    assert p.callback_url in page
    marketer_client.post(url, generic_data(secret_client_secret="", callback_keep_newest_only="on"))
    p.refresh_from_db()
    assert p.callback_hmac_secrets == ["second-secret"]


def test_admin_never_shows_secrets(admin_user_, client):
    p = make("Alpha", secrets={"password": "adm1n-secret"}, callback_hmac_secrets=["hm4c-secret"])
    client.force_login(admin_user_)
    page = client.get(reverse("admin:providers_provider_change", args=[p.pk])).content.decode()
    page += client.get(reverse("admin:providers_provider_changelist") + "?q=Alpha").content.decode()
    assert "Alpha" in page
    assert "adm1n-secret" not in page and "hm4c-secret" not in page and "fernet:" not in page
    client.post(
        reverse("admin:providers_provider_changelist"), {"action": "mark_default", "_selected_action": [p.pk]}
    )
    p.refresh_from_db()
    assert p.is_default


def test_mark_default_service_keeps_exactly_one():
    a, b, c = make("A", is_default=True), make("B"), make("C")
    for target in (b, c, a):
        provider_mark_default(provider_id=target.pk)
        assert list(Provider.objects.filter(is_default=True)) == [target]


def test_a_header_marked_secret_in_the_form_is_write_only(marketer_client):
    create(marketer_client, **{"headers-1-value": "tenant-secret-42", "headers-1-secret": "on"})
    p = Provider.objects.get()
    assert p.config["headers"][1] == {"name": "X-Two", "value": "", "secret": True}
    assert p.secrets["header:x-two"] == "tenant-secret-42"
    page = marketer_client.get(reverse("providers:edit", args=[p.pk])).content.decode()
    assert "tenant-secret-42" not in page and "stored; blank keeps it" in page
    # As the rendered page posts it: the stored rows are initial forms.
    data = generic_data(**{"headers-1-value": "", "headers-1-secret": "on", "headers-INITIAL_FORMS": "3"})
    assert marketer_client.post(reverse("providers:edit", args=[p.pk]), data).status_code == 302
    p.refresh_from_db()
    assert p.secrets["header:x-two"] == "tenant-secret-42"  # blank keeps it


def test_the_callback_timestamp_requirement_is_set_in_the_form(marketer_client):
    create(marketer_client, callback_require_timestamp="on")
    p = Provider.objects.get()
    assert p.callback_require_timestamp
    page = marketer_client.get(reverse("providers:edit", args=[p.pk])).content.decode()
    assert "Require X-RCS-Timestamp on callbacks" in page
