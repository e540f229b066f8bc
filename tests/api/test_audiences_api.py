"""Audiences and contacts over the API: E.164 numbers, all-or-nothing batches, duplicates named."""

from __future__ import annotations

import pytest

from campaigns.models import Contact

pytestmark = pytest.mark.django_db


def test_audience_with_contacts(api):
    response = api.post("/api/audiences/", {"name": "VIPs"}, format="json")
    assert response.status_code == 201
    pk = response.json()["id"]
    rows = [{"phone": "+91 98123 45678", "attributes": {"first_name": "Asha"}}, {"phone": "+14155550123"}]
    response = api.post(f"/api/audiences/{pk}/contacts/", rows, format="json")
    assert response.status_code == 201, response.json()
    assert [c["phone"] for c in response.json()] == ["+919812345678", "+14155550123"]
    assert api.get(f"/api/audiences/{pk}/").json()["contact_count"] == 2
    listed = api.get(f"/api/audiences/{pk}/contacts/?phone=%2B919812345678").json()
    assert listed["count"] == 1 and listed["results"][0]["attributes"] == {"first_name": "Asha"}
    contact = Contact.objects.get(phone="+14155550123")
    response = api.patch(f"/api/contacts/{contact.pk}/", {"subscribed": False}, format="json")
    assert response.status_code == 200 and not Contact.objects.get(pk=contact.pk).subscribed


def test_one_bad_row_stores_nothing_and_names_the_row(api):
    pk = api.post("/api/audiences/", {"name": "A"}, format="json").json()["id"]
    rows = [{"phone": "+14155550123"}, {"phone": "12345"}]
    response = api.post(f"/api/audiences/{pk}/contacts/", rows, format="json")
    assert response.status_code == 400
    assert list(response.json()["rows"]) == ["1"] and response.json()["rows"]["1"]["phone"]
    assert not Contact.objects.exists()
    response = api.post(f"/api/audiences/{pk}/contacts/", [{"phone": "+14155550123"}] * 2, format="json")
    assert response.status_code == 400 and "phone" in response.json()
    assert (
        api.post(f"/api/audiences/{pk}/contacts/", {"phone": "+14155550123"}, format="json").status_code
        == 201
    )
    response = api.post(f"/api/audiences/{pk}/contacts/", {"phone": "+14155550123"}, format="json")
    assert response.status_code == 400 and "already" in str(response.json())


def test_bad_filters_are_400(api):
    assert api.get("/api/contacts/?audience=abc").status_code == 400
    assert api.get("/api/messages/?campaign=1x").status_code == 400
    assert api.get("/api/contacts/?audience=99999999999999999999999").status_code == 400
