"""The issue's reproduction and the admin's limits, on every surface: dashboard, API, admin."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.models import Campaign
from providers.models import Provider, SendTest
from tests.api.factories import make_campaign

LISTENER = "https://127.0.0.1:9/jio"
REAL_KEY = "jio-real-api-key-4471"


@pytest.fixture
def support(db) -> User:
    user = User.objects.create_user("helpdesk", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


@pytest.fixture
def support_client(support) -> Client:
    client = Client()
    client.force_login(support)
    return client


@pytest.fixture
def jio(db) -> Provider:
    return Provider.objects.create(
        kind="jiocx",
        nickname="Jio",
        sender_id="agent",
        config={"base_url": "https://api.jio.example/rcs", "click_tracking": "off", "click_domain": ""},
        secrets={"api_key": REAL_KEY},
    )


def _unchanged(provider: Provider) -> None:
    provider.refresh_from_db()
    assert provider.config["base_url"] == "https://api.jio.example/rcs"
    assert provider.secrets == {"api_key": REAL_KEY}


@pytest.mark.django_db
def test_support_cannot_change_an_endpoint_then_send_test_on_any_surface(support, support_client, jio):
    # the dashboard form
    edit = reverse("providers:edit", args=[jio.pk])
    assert support_client.get(edit).status_code == 403
    data = {"nickname": "Jio", "sender_id": "agent", "cfg_base_url": LISTENER, "cfg_click_tracking": "off"}
    assert support_client.post(edit, data).status_code == 403
    _unchanged(jio)
    # the API
    api = APIClient()
    api.force_authenticate(support)
    response = api.patch(f"/api/providers/{jio.pk}/", {"config": {"base_url": LISTENER}}, format="json")
    assert response.status_code == 403
    response = api.patch(f"/api/providers/{jio.pk}/", {"secrets": {"api_key": "x"}}, format="json")
    assert response.status_code == 403
    assert api.get(f"/api/providers/{jio.pk}/").status_code == 200  # reading stays open
    _unchanged(jio)
    # the admin
    change = reverse("admin:providers_provider_change", args=[jio.pk])
    assert support_client.get(change).status_code == 200
    response = support_client.post(
        change, {"nickname": "Jio", "cfg_base_url": LISTENER, "secret_api_key": "x"}
    )
    assert response.status_code == 403
    _unchanged(jio)
    # then Send Test: refused, nothing queued, nothing sent
    test = reverse("providers:send_test", args=[jio.pk])
    assert support_client.get(test).status_code == 403
    assert support_client.post(test, {"to": "+919876543210", "rcs_text": "hi"}).status_code == 403
    assert not SendTest.objects.exists()


@pytest.mark.django_db
def test_admin_change_page_is_the_dashboard_form_not_raw_config_json(admin_user_, jio, settings):
    """The admin's provider page renders the kind's declared fields (providers.forms.kind_form_fields, as
    the dashboard form does), never a config box; secrets are write-only inputs; an invalid setting is
    refused beside its field by providers.validation and nothing is stored."""
    client = Client()
    client.force_login(admin_user_)
    change = reverse("admin:providers_provider_change", args=[jio.pk])
    page = client.get(change).content.decode()
    assert 'name="config"' not in page and 'name="secrets"' not in page
    assert 'name="cfg_base_url"' in page and 'value="https://api.jio.example/rcs"' in page
    assert 'type="password" name="secret_api_key"' in page and REAL_KEY not in page
    data = {
        "nickname": "Jio renamed",
        "sender_id": "agent",
        "cfg_base_url": "http://api.jio.example/rcs",
        "cfg_click_tracking": "off",
        "config": "[1, 2]",  # a raw config is no input of the page: ignored
    }
    response = client.post(change, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["cfg_base_url"] == ["Use an https:// URL."]
    jio.refresh_from_db()
    assert jio.config["base_url"] == "https://api.jio.example/rcs" and jio.nickname != "Jio renamed"
    settings.OUTBOUND_ALLOW_HOSTS = ["127.0.0.1"]
    # a valid change through the admin: stored, the secret kept (blank keeps it), the config still a dict
    response = client.post(change, {**data, "cfg_base_url": "https://127.0.0.1:9/jio2"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    jio.refresh_from_db()
    assert jio.config["base_url"] == "https://127.0.0.1:9/jio2" and jio.secrets == {"api_key": REAL_KEY}
    api = APIClient()
    api.force_authenticate(admin_user_)
    assert api.get("/api/providers/").status_code == 200


@pytest.mark.django_db
def test_support_runs_a_safe_action_in_the_admin(support_client, jio):
    changelist = reverse("admin:providers_provider_changelist")
    page = support_client.get(changelist).content.decode()
    assert 'value="disable"' in page and 'value="delete_selected"' not in page
    response = support_client.post(changelist, {"action": "disable", "_selected_action": [jio.pk]})
    assert response.status_code == 302
    jio.refresh_from_db()
    assert jio.enabled is False


@pytest.mark.django_db
def test_support_cannot_resume_or_edit_a_campaign_in_the_admin(support_client, admin_user_):
    paused = make_campaign(status=Campaign.Status.PAUSED)
    changelist = reverse("admin:campaigns_campaign_changelist")
    page = support_client.get(changelist).content.decode()
    assert "campaign_resume" not in page
    support_client.post(changelist, {"action": "campaign_resume", "_selected_action": [paused.pk]})
    paused.refresh_from_db()
    assert paused.status == Campaign.Status.PAUSED
    done = make_campaign(status=Campaign.Status.COMPLETED, name="Done")
    change = reverse("admin:campaigns_campaign_change", args=[done.pk])
    assert support_client.post(change, {"name": "Renamed"}).status_code == 403
    # an admin sees a completed campaign read-only too: its content and audience are locked
    client = Client()
    client.force_login(admin_user_)
    assert 'name="name"' not in client.get(change).content.decode()
    client.post(change, {"name": "Renamed"})
    done.refresh_from_db()
    assert done.name == "Done"


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["https://evil.example/phish", "//evil.example/x", "/\\evil.example"])
def test_next_redirects_only_within_the_site(marketer_client, jio, target):
    url = reverse("providers:action", args=[jio.pk, "disable"])
    response = marketer_client.post(url, {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("providers:list")


@pytest.mark.django_db
def test_next_within_the_site_is_followed(marketer_client, jio):
    url = reverse("providers:action", args=[jio.pk, "enable"])
    detail = reverse("providers:detail", args=[jio.pk])
    assert marketer_client.post(url, {"next": detail})["Location"] == detail


@pytest.mark.django_db
def test_no_role_user_gets_the_no_access_page(client):
    user = User.objects.create_user("nobody", password="x")
    client.force_login(user)
    for url in ("/", reverse("providers:list"), reverse("campaigns:list"), "/admin/"):
        response = client.get(url, follow=True)
        assert response.status_code == 403, url
        assert "No access" in response.content.decode()
        assert "has no role" in response.content.decode()


@pytest.mark.django_db
def test_marketer_cannot_open_the_admin(marketer_client):
    marketer = User.objects.get(username="marketer")
    marketer.is_staff = True  # even flagged staff: the role decides
    marketer.save()
    for url in ("/admin/", "/admin/login/", reverse("admin:providers_provider_changelist")):
        response = marketer_client.get(url)
        assert response.status_code == 403, url
    assert 'href="/admin/"' not in marketer_client.get(reverse("providers:list")).content.decode()
