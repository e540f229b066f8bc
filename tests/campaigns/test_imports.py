"""CSV import: streamed, every rejected row reported with its line number, upsert of known numbers."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.base import ContentFile

from campaigns.imports import run_import
from campaigns.models import Audience, AudienceImport, Contact
from campaigns.services import audience_import_start

CSV = (
    "phone,first_name,city\n"  # line 1
    "+919812345671,Asha,Pune\n"  # 2 ok
    "not-a-number,Bad,X\n"  # 3 invalid
    "+919812345672,Ravi,\n"  # 4 ok (empty attribute dropped)
    "\n"  # 5 blank line: not a row
    "+91 98123 45671,Again,Y\n"  # 6 duplicate of line 2
    "+44 7911 123457,Tom,London,extra\n"  # 7 wrong field count
    "+1 555 0100,Fake,NYC\n"  # 8 invalid for its country
    '+447911123456,"Smith, J","Lon\ndon"\n'  # 9-10 quoted comma and newline
)


def _job(audience, text: str, region: str = "") -> AudienceImport:
    return audience_import_start(
        audience=audience, file=ContentFile(text.encode()), original_name="people.csv", default_region=region
    )


@pytest.fixture
def audience(db):
    return Audience.objects.create(name="Import target")


@pytest.mark.django_db
def test_import_reports_every_rejected_row_with_its_line(
    audience, sync_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        job = _job(audience, CSV)
    job.refresh_from_db()
    assert job.status == AudienceImport.Status.DONE, job.error
    assert (job.rows_read, job.imported_count, job.invalid_count, job.duplicate_count) == (7, 3, 3, 1)
    assert job.percent == 100
    contacts = {c.phone: c for c in audience.contacts.all()}
    assert set(contacts) == {"+919812345671", "+919812345672", "+447911123456"}
    assert contacts["+919812345672"].attributes == {"first_name": "Ravi"}
    assert contacts["+447911123456"].attributes == {"first_name": "Smith, J", "city": "Lon\ndon"}
    rows = list(csv.reader(io.StringIO(job.report.read().decode())))
    assert rows[0] == ["line", "phone", "reason"]
    by_line = {int(r[0]): r for r in rows[1:]}
    assert set(by_line) == {3, 6, 7, 8}
    assert "Duplicate" in by_line[6][2] and "+919812345671" in by_line[6][2]
    assert "fields" in by_line[7][2]
    assert "valid" in by_line[8][2].lower()


@pytest.mark.django_db
def test_reimport_updates_known_numbers_and_reads_subscribed(audience):
    Contact.objects.create(audience=audience, phone="+919812345671", attributes={"first_name": "Old"})
    job = run_import(
        _job(audience, "Mobile,first_name,subscribed\n+919812345671,New,no\n9812345673,Local,yes\n", "IN")
    )
    assert (job.imported_count, job.updated_count, job.invalid_count) == (1, 1, 0)
    old = audience.contacts.get(phone="+919812345671")
    assert old.attributes == {"first_name": "New"} and old.subscribed is False
    assert audience.contacts.get(phone="+919812345673").subscribed is True
    assert not job.report


@pytest.mark.django_db
def test_file_without_phone_column_fails_with_a_reason(audience):
    job = run_import(_job(audience, "name,city\nAsha,Pune\n"))
    assert job.status == AudienceImport.Status.FAILED
    assert "No phone column" in job.error
    assert not audience.contacts.exists()


@pytest.mark.django_db
def test_rejected_cells_cannot_start_a_spreadsheet_formula(
    audience, sync_tasks, django_capture_on_commit_callbacks
):
    text = 'phone,name\n=HYPERLINK("http://evil"),a\n+1 2,b\n-3,c\n@SUM(A1),d\n\tx,e\n"\rx",f\n'
    with django_capture_on_commit_callbacks(execute=True):
        job = _job(audience, text)
    job.refresh_from_db()
    rows = list(csv.reader(io.StringIO(job.report.read().decode())))[1:]
    phones = [r[1] for r in rows]
    assert len(phones) == 6 and all(p.startswith("'") for p in phones), phones
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)


@pytest.mark.django_db
def test_a_database_error_while_storing_ends_the_import_failed(
    audience, sync_tasks, django_capture_on_commit_callbacks, monkeypatch
):
    from django.db import OperationalError

    from campaigns import imports

    def broken(*args, **kwargs):
        raise OperationalError("disk full")

    monkeypatch.setattr(imports, "write_chunk", broken)
    with django_capture_on_commit_callbacks(execute=True):
        job = _job(audience, "phone\n+919812345671\n")
    job.refresh_from_db()
    assert job.status == AudienceImport.Status.FAILED
    assert "OperationalError" in job.error and job.finished_at
