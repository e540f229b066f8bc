"""CSV import on PostgreSQL outside a transaction: a thread stores each chunk while the next is read."""

from __future__ import annotations

import threading

import pytest
from django.core.files.base import ContentFile

from campaigns import imports
from campaigns.imports import run_import
from campaigns.models import Audience, AudienceImport, Contact
from tests.postgresql import postgresql_only

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

needs_postgres = postgresql_only("the import stores chunks in a thread of its own only on PostgreSQL")

ROWS = [f"+9198123456{i:02d},Name{i}" for i in range(7)]


def _job(text: str) -> AudienceImport:
    audience = Audience.objects.create(name="Threaded import")
    job = AudienceImport(audience=audience, original_name="people.csv")
    job.file.save(f"audience-{audience.pk}.csv", ContentFile(text.encode()), save=False)
    job.size_bytes = job.file.size
    job.save()
    return job


@pytest.fixture
def stores(monkeypatch) -> list[tuple[str, int, dict]]:
    """Chunks of two rows; each store recorded with its thread's name, its size and the progress saved."""
    monkeypatch.setattr(imports, "CHUNK", 2)
    seen = []
    store = imports.ChunkWriter._store

    def recording(writer, rows, progress):
        seen.append((threading.current_thread().name, len(rows), progress))
        store(writer, rows, progress)

    monkeypatch.setattr(imports.ChunkWriter, "_store", recording)
    return seen


def _import_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("import-")]


def test_chunks_are_stored_by_the_import_thread_with_the_progress_as_read(stores):
    text = "phone,first_name\n" + "\n".join([*ROWS[:3], "not-a-number,Bad", ROWS[0], *ROWS[3:]]) + "\n"
    job = run_import(_job(text))

    assert job.status == AudienceImport.Status.DONE, job.error
    assert (job.rows_read, job.imported_count, job.invalid_count, job.duplicate_count) == (9, 7, 1, 1)
    assert job.percent == 100
    contacts = dict(Contact.objects.filter(audience_id=job.audience_id).values_list("phone", "attributes"))
    assert contacts == {row.split(",")[0]: {"first_name": row.split(",")[1]} for row in ROWS}
    assert {name for name, _, _ in stores} == {f"import-{job.pk}"}
    assert [size for _, size, _ in stores] == [2, 2, 2, 1]
    # Each chunk's progress counts the rows read up to that chunk, saved once the chunk is stored.
    assert [p["imported_count"] for _, _, p in stores] == [2, 4, 6, 7]
    assert [p["invalid_count"] + p["duplicate_count"] for _, _, p in stores] == [0, 2, 2, 2]
    assert not _import_threads()


def test_a_failed_store_stops_the_import_and_is_raised_by_it(stores, monkeypatch):
    write = imports.write_chunk
    calls = []

    def fails_second(audience_id, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        write(audience_id, rows)

    monkeypatch.setattr(imports, "write_chunk", fails_second)
    job = _job("phone,first_name\n" + "\n".join(ROWS) + "\n")

    with pytest.raises(RuntimeError, match="went away"):
        run_import(job)

    assert Contact.objects.filter(audience_id=job.audience_id).count() == 2  # the first chunk only
    assert calls == [2, 2]  # nothing is stored after the failure; reading stops at the next hand-over
    assert not _import_threads()


def test_a_file_broken_part_way_keeps_what_was_read_before_and_fails_with_the_reason(stores):
    huge = "+919812345699," + "x" * 1_000_001  # above the csv module's field size limit
    text = "phone,first_name\n" + "\n".join([*ROWS[:5], huge, *ROWS[5:]]) + "\n"
    job = run_import(_job(text))

    assert job.status == AudienceImport.Status.FAILED
    assert "field limit" in job.error
    assert Contact.objects.filter(audience_id=job.audience_id).count() == 4  # the two full chunks
    assert not _import_threads()
